/*
 * A telnet connection as a dialog transport (dialog.h): TCP with a
 * connect timeout, and the little of RFC 854/855 a switch's CLI needs.
 * The server may echo and suppress go-ahead (WILL ECHO, WILL SGA are
 * accepted); every other option it offers is refused, every option it
 * asks of us is refused (WONT), subnegotiations are skipped, and 0xFF in
 * data is doubled (IAC IAC) both ways.
 */
#ifndef TB_TELNET_H
#define TB_TELNET_H

#include "dialog.h"
#include "util/err.h"

/*
 * Connect to host:port (a name or an address) within timeout_sec (0 means
 * 30). 0 and *tr (hand it to dialog_new(), which closes it), or -1 + err
 * naming host and port.
 */
int telnet_connect(const char *host, int port, int timeout_sec, struct dialog_transport *tr,
                   struct err *err);

#endif
