// spillway-bench, the load generator. Its issue builds it; until then it prints its usage.

#include <cstdio>

int main() {
  std::fputs(
      "usage: spillway-bench --servers host:port[,host:port...] [--threads N] [--connections N]\n"
      "                      [--pipeline N] [--ratio set:get] [--keys N] [--value-size N]\n"
      "                      [--duration S | --requests N]\n"
      "spillway-bench is not built yet: this placeholder only prints its planned usage.\n",
      stderr);
  return 2;
}
