/**
 * "Did you mean": the known word closest to a misspelt one, by Levenshtein distance
 * (`fastest-levenshtein`).
 */
import { distance } from 'fastest-levenshtein';

/**
 * The choice closest to `word` if it is near enough to be a slip: at most a third of
 * the word's length edits away, rounded up (at least 1, at most 3); ties go to the earlier
 * choice. Letter case is ignored; a word shorter than three letters gets no suggestion.
 */
export function closestMatch(word: string, choices: readonly string[]): string | undefined {
  if (word.length < 3) return undefined; // "3" for "1" is no slip
  const limit = Math.min(3, Math.max(1, Math.ceil(word.length / 3)));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const choice of choices) {
    const d = distance(word.toLowerCase(), choice.toLowerCase());
    if (d < bestDistance) {
      best = choice;
      bestDistance = d;
    }
  }
  return best !== word && bestDistance <= limit ? best : undefined;
}

/** `; did you mean "x"?` for a near miss, else the empty string. */
export function didYouMean(word: string, choices: readonly string[]): string {
  const match = closestMatch(word, choices);
  return match === undefined ? '' : `; did you mean ${JSON.stringify(match)}?`;
}
