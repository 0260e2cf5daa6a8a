/** The part of jStat (npm `jstat`, which ships no types) that the intervals use. */
declare module 'jstat' {
  const jstat: {
    jStat: {
      studentt: {
        /** Quantile of Student's t with `dof` degrees of freedom. */
        inv(p: number, dof: number): number;
      };
    };
  };
  export default jstat;
}
