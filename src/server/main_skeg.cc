// `skeg`: native protocol on --addr, RESP on --resp-addr. Everything is in server/server.h.
#include "server/server.h"

int main(int argc, char** argv) {
  return skeg::server::ServerMain(skeg::server::Binary::kSkeg, argc, argv);
}
