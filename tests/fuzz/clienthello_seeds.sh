#!/usr/bin/env bash
# clienthello_seeds.sh DIR: seed the ClientHello fuzzer with what real
# clients send first (OpenSSL's s_client in TLS 1.3 and 1.2, with and
# without a server name, and curl), captured on a loopback listener.
set -eu
dir=$1
mkdir -p "$dir"
capture() {
	local name=$1
	shift
	/usr/bin/python3 - "$dir/$name" "$@" <<'PY'
import socket, subprocess, sys
out, cmd = sys.argv[1], sys.argv[2:]
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
port = s.getsockname()[1]
cmd = [c.replace("PORT", str(port)) for c in cmd]
p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
s.settimeout(10)
c, _ = s.accept()
c.settimeout(2)
data = b""
try:
    while len(data) < 65536:
        b = c.recv(65536)
        if not b:
            break
        data += b
except socket.timeout:
    pass
c.close()
p.kill()
p.wait()
open(out, "wb").write(data)
PY
}
capture s_client13 openssl s_client -connect 127.0.0.1:PORT -servername mail.example.com
capture s_client12 openssl s_client -connect 127.0.0.1:PORT -tls1_2 -servername Autodiscover.Example.com
capture s_client_nosni openssl s_client -connect 127.0.0.1:PORT -noservername
if command -v curl >/dev/null; then
	capture curl curl -sk --max-time 3 https://localhost:PORT/
fi
