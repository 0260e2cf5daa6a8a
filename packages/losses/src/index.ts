/**
 * `@ediy/losses`: BYOL, R-DEM, R-IEM and the E-DIY weighted sum; the RegionLoss interface.
 * @packageDocumentation
 */
export {};
