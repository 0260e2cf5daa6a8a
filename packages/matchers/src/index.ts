/**
 * `@ediy/matchers`: Region pairing: teacher-guided, random, other-image (R-INS), geometric.
 * @packageDocumentation
 */
export {};
