/**
 * `@ediy/eval`: kNN, linear probe, dense probe, region-diversity metrics, saliency maps.
 * @packageDocumentation
 */
export {};
