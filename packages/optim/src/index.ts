/**
 * `@ediy/optim`: LARS, warm-up + cosine learning rate, cosine EMA momentum.
 * @packageDocumentation
 */
export {};
