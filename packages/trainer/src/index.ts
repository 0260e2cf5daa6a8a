/**
 * `@ediy/trainer`: The E-DIY pre-training loop: online/target/teacher, EMA, accumulation, checkpoints.
 * @packageDocumentation
 */
export {};
