// How long one small OpenMP parallel region takes between two stretches of serial work,
// under each OpenMP wait policy: the cost a sleeping thread's wake-up adds to a kernel
// call of the native engine (the serial stretch stands for tfjs's JavaScript between two
// kernel calls, ~70 us). Written by hand: a dozen lines of OpenMP, no library times this.
//
//   g++ -O3 -march=native -fopenmp bench/openmp-wake.cc -o /tmp/openmp-wake
//   for p in "OMP_NUM_THREADS=1" "OMP_WAIT_POLICY=PASSIVE" "GOMP_SPINCOUNT=30000" "OMP_WAIT_POLICY=ACTIVE"; do
//     env $p /tmp/openmp-wake 65536 70; done
//
// Arguments: floats per region (a ReLU over them), microseconds of serial work between
// two regions. Prints the region's wall time (the loop's minus the serial work) and the
// process CPU time per iteration, after 20 iterations of warm-up, over 300.
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

static double cpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: openmp-wake <floats> <serial microseconds>\n");
    return 2;
  }
  const size_t n = std::strtoul(argv[1], nullptr, 10);
  const double gapUs = std::atof(argv[2]);
  std::vector<float> x(n), y(n);
  for (size_t i = 0; i < n; i++) x[i] = static_cast<float>(i % 7) - 3.f;
  using clock = std::chrono::steady_clock;
  auto run = [&](int iterations) {
    const auto t0 = clock::now();
    const double c0 = cpuSeconds();
    for (int it = 0; it < iterations; it++) {
#pragma omp parallel for simd schedule(static)
      for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0;
      const auto g0 = clock::now();
      while (std::chrono::duration<double, std::micro>(clock::now() - g0).count() < gapUs) {
      }
    }
    const double wall = std::chrono::duration<double, std::micro>(clock::now() - t0).count();
    return std::make_pair(wall / iterations - gapUs, (cpuSeconds() - c0) * 1e6 / iterations);
  };
  run(20);
  const auto [regionUs, cpuUs] = run(300);
  std::printf("%zu floats, %.0f us serial between regions: region %.0f us, %.0f CPU-us per iteration\n",
              n, gapUs, regionUs, cpuUs);
  return 0;
}
