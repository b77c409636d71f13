// `skeg`: native protocol on --addr, RESP on --resp-addr. Everything is in server/server.h.
// `skeg build ...` runs the offline index builder instead (server/build_tool.h).
#include <cstring>

#include "server/build_tool.h"
#include "server/server.h"

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "build") == 0) {
    return skeg::server::BuildToolMain(argc - 1, argv + 1);
  }
  return skeg::server::ServerMain(skeg::server::Binary::kSkeg, argc, argv);
}
