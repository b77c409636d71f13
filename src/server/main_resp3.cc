// `skeg-resp3`: RESP on --addr, native protocol only with --native-addr. Everything is in
// server/server.h.
#include "server/server.h"

int main(int argc, char** argv) {
  return skeg::server::ServerMain(skeg::server::Binary::kSkegResp3, argc, argv);
}
