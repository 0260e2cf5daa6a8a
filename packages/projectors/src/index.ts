/**
 * `@ediy/projectors`: Global MLP and local 1x1-conv projectors and predictors built from layer specs.
 * @packageDocumentation
 */
export {};
