/**
 * `@ediy/cli`: The ediy command: pretrain, reproduce, eval, import and export weights.
 * @packageDocumentation
 */
export {};
