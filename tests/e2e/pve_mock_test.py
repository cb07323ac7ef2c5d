#!/usr/bin/python3
"""pve-mock over the wire, as a REST client sees it: Python's http.client and raw sockets.

Covers the wire format (envelope, content type, reason phrases, JSON and form bodies),
authentication (tickets, expiry, renewal, CSRF, API tokens), every kind of bad input, the
fault rules, TLS (the generated certificate, plain HTTP redirected), and operations
(SIGTERM, snapshots, --help, bad flags).

Run by ctest; by hand: /usr/bin/python3 tests/e2e/pve_mock_test.py --pve-mock build/bin/pve-mock
"""
import hashlib
import json
import os
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvetest  # noqa: E402

ARGS = None


def setUpModule():
    global STATE
    STATE = pvetest.StateDir()


def tearDownModule():
    STATE.cleanup()


class MockServerTest(unittest.TestCase):
    """One pve-mock with Proxmox authentication and a short ticket lifetime."""

    @classmethod
    def setUpClass(cls):
        cls.mock = pvetest.PveMock(ARGS.pve_mock, STATE.path, "wire", ["--reset", "--access_log"],
                                   env={"PVE_MOCK_ROOT_PASSWORD": "s3cret"})
        cls.addClassCleanup(pvetest.stop, cls.mock)
        cls.auth = cls.mock.login(password="s3cret")
        cls.cookie = {"Cookie": "PVEAuthCookie=" + cls.auth["ticket"]}
        cls.write = dict(cls.cookie, CSRFPreventionToken=cls.auth["CSRFPreventionToken"])

    def call(self, method, path, params=None, headers=None, **kw):
        return self.mock.request(method, path, params, headers, **kw)

    # --- TLS and the start-up line -------------------------------------------------------
    def test_fingerprint_on_the_start_up_line_is_the_served_certificate(self):
        with open(self.mock.cert_file) as f:
            der = ssl.PEM_cert_to_DER_cert(f.read())
        digest = hashlib.sha256(der).hexdigest().upper()
        self.assertEqual(self.mock.fingerprint, ":".join(digest[i:i + 2] for i in range(0, 64, 2)))
        # The generated certificate verifies for 127.0.0.1 (SAN), used as the CA file.
        status, _, _, _ = self.call("GET", "/version", headers=self.cookie)
        self.assertEqual(status, 200)

    def test_plain_http_on_the_tls_port_is_redirected_like_pveproxy(self):
        reply = self.mock.raw(b"GET /api2/json/version HTTP/1.1\r\nHost: pve.example:8006\r\n\r\n",
                              tls=False)
        self.assertTrue(reply.startswith(b"HTTP/1.1 301"), reply)
        self.assertIn(b"Location: https://pve.example:8006/api2/json/version", reply)
        reply = self.mock.raw(b"POST /api2/json/x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
                              tls=False)
        self.assertTrue(reply.startswith(b"HTTP/1.1 308"), reply)

    # --- Envelope and errors -------------------------------------------------------------
    def test_answers_carry_the_data_envelope_and_pveproxy_headers(self):
        status, reason, headers, body = self.call("GET", "/nodes", headers=self.cookie)
        self.assertEqual((status, reason), (200, "OK"))
        self.assertEqual(headers["content-type"], "application/json;charset=UTF-8")
        self.assertEqual(headers["server"], "pve-api-daemon/3.0")
        self.assertEqual(headers["cache-control"], "max-age=0")
        self.assertEqual(headers["connection"], "Keep-Alive")
        nodes = json.loads(body)["data"]
        self.assertEqual(sorted(n["node"] for n in nodes), ["pve1", "pve2"])

    def test_errors_use_the_reason_phrase_and_proxmox_json_body(self):
        status, reason, headers, body = self.call("GET", "/nodes/pve1/qemu/999/config",
                                                  headers=self.cookie)
        self.assertEqual(status, 500)
        self.assertEqual(reason, "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist")
        self.assertEqual(headers["connection"], "close")
        self.assertEqual(json.loads(body), {"data": None, "message": reason + "\n"})
        status, reason, _, body = self.call("POST", "/nodes/pve1/qemu", {"vmid": 5}, headers=self.write)
        self.assertEqual((status, reason), (400, "Parameter verification failed."))
        self.assertEqual(json.loads(body)["errors"]["vmid"], "value must have a minimum value of 100")

    def test_unknown_paths_are_501_and_need_authentication_first(self):
        status, reason, _, _ = self.call("GET", "/no/such/thing", headers=self.cookie)
        self.assertEqual((status, reason), (501, "Method 'GET /no/such/thing' not implemented"))
        status, reason, _, body = self.call("GET", "/no/such/thing")
        self.assertEqual((status, reason, body), (401, "No ticket", b""))
        status, _, _, body = self.mock.request("GET", "", headers=self.cookie)
        self.assertEqual(status, 501)

    def test_json_and_form_bodies_and_query_override(self):
        status, _, _, body = self.call("POST", "/nodes/pve1/qemu", headers=self.write,
                                       body=json.dumps({"vmid": 410, "name": "json-vm", "memory": 1024,
                                                        "onboot": True}),
                                       content_type="application/json")
        self.assertEqual(status, 200, body)
        self.assertTrue(json.loads(body)["data"].startswith("UPID:pve1:"))
        status, _, _, body = self.call("GET", "/nodes/pve1/qemu/410/config", headers=self.cookie)
        config = json.loads(body)["data"]
        self.assertEqual((config["name"], str(config["memory"]), str(config["onboot"])),
                         ("json-vm", "1024", "1"))
        # Form body with ';' as a pair separator, '+' as space, query keys override the body.
        status, _, _, body = self.call("PUT", "/nodes/pve1/qemu/410/config?description=from+query",
                                       headers=self.write,
                                       body="description=from+body;cores=2",
                                       content_type="application/x-www-form-urlencoded")
        self.assertEqual(status, 200, body)
        config = json.loads(self.call("GET", "/nodes/pve1/qemu/410/config", headers=self.cookie)[3])["data"]
        self.assertEqual((config["description"], str(config["cores"])), ("from query", "2"))
        self.call("DELETE", "/nodes/pve1/qemu/410", headers=self.write)

    # --- Authentication ------------------------------------------------------------------
    def test_login_answer_has_what_clients_read(self):
        data = self.auth
        self.assertEqual(data["username"], "root@pam")
        self.assertRegex(data["ticket"], r"^PVE:root@pam:[0-9A-F]{8}::[A-Za-z0-9+/=]+$")
        self.assertRegex(data["CSRFPreventionToken"], r"^[0-9A-F]{8}:[A-Za-z0-9+/]{43}$")
        self.assertEqual(sorted(data["cap"]), ["access", "dc", "mapping", "nodes", "sdn", "storage", "vms"])
        # Realm as its own parameter, and the ticket in the Authorization header.
        data = self.mock.request("POST", "/access/ticket",
                                 {"username": "root", "realm": "pam", "password": "s3cret"})
        self.assertEqual(data[0], 200)
        status, _, _, _ = self.call("GET", "/version",
                                    headers={"Authorization": "PVEAuthCookie=" + self.auth["ticket"]})
        self.assertEqual(status, 200)

    def test_wrong_password_and_forged_tickets_are_refused(self):
        status, reason, headers, body = self.call("POST", "/access/ticket",
                                                  {"username": "root@pam", "password": "wrong"})
        self.assertEqual((status, reason), (401, "authentication failure"))
        self.assertEqual(json.loads(body), {"data": None, "message": "authentication failure\n"})
        forged = self.auth["ticket"].replace("root@pam", "admin@pve")
        status, reason, _, body = self.call("GET", "/version", headers={"Cookie": "PVEAuthCookie=" + forged})
        self.assertEqual((status, reason, body), (401, "Authentication failed!", b""))
        tampered = self.auth["ticket"][:-2] + ("AA" if not self.auth["ticket"].endswith("AA") else "BB")
        status, _, _, _ = self.call("GET", "/version", headers={"Cookie": "PVEAuthCookie=" + tampered})
        self.assertEqual(status, 401)

    def test_writes_need_the_csrf_token_with_a_ticket(self):
        status, reason, _, body = self.call("POST", "/pools", {"poolid": "csrf"}, headers=self.cookie)
        self.assertEqual((status, reason, body), (401, "Permission denied - invalid csrf token", b""))
        bad = dict(self.cookie, CSRFPreventionToken="00000000:" + "A" * 43)
        self.assertEqual(self.call("POST", "/pools", {"poolid": "csrf"}, headers=bad)[0], 401)
        self.assertEqual(self.call("POST", "/pools", {"poolid": "csrf"}, headers=self.write)[0], 200)
        self.assertEqual(self.call("DELETE", "/pools/csrf", headers=self.write)[0], 200)

    def test_api_tokens_work_until_deleted(self):
        status, _, _, body = self.call("POST", "/access/users/root@pam/token/wire", {"privsep": 0},
                                       headers=self.write)
        self.assertEqual(status, 200, body)
        token = json.loads(body)["data"]
        self.assertEqual(token["full-tokenid"], "root@pam!wire")
        self.assertRegex(token["value"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        header = {"Authorization": "PVEAPIToken=root@pam!wire=" + token["value"]}
        self.assertEqual(self.call("GET", "/version", headers=header)[0], 200)
        # No CSRF token needed for writes with an API token.
        self.assertEqual(self.call("POST", "/pools", {"poolid": "tok"}, headers=header)[0], 200)
        self.assertEqual(self.call("DELETE", "/pools/tok", headers=header)[0], 200)
        # The secret is never shown again.
        listed = json.loads(self.call("GET", "/access/users/root@pam/token", headers=self.cookie)[3])["data"]
        self.assertEqual([t["tokenid"] for t in listed], ["wire"])
        self.assertNotIn(token["value"], json.dumps(listed))
        wrong = {"Authorization": "PVEAPIToken=root@pam!wire=" + "0" * 36}
        self.assertEqual(self.call("GET", "/version", headers=wrong)[:2], (401, "Authentication failed!"))
        # A token header on the login call is refused like Proxmox does (allowtoken => 0).
        self.assertEqual(self.call("POST", "/access/ticket", {"username": "root@pam", "password": "x"},
                                   headers=header)[0], 403)
        self.assertEqual(self.call("DELETE", "/access/users/root@pam/token/wire", headers=self.write)[0], 200)
        self.assertEqual(self.call("GET", "/version", headers=header)[:2], (401, "Authentication failed!"))

    def test_users_created_with_a_password_can_log_in(self):
        status, _, _, body = self.call("POST", "/access/users",
                                       {"userid": "alice@pve", "password": "alice-pw"}, headers=self.write)
        self.assertEqual(status, 200, body)
        user = json.loads(self.call("GET", "/access/users/alice@pve", headers=self.cookie)[3])["data"]
        self.assertNotIn("password", user)
        self.assertEqual(self.mock.login("alice@pve", "alice-pw")["username"], "alice@pve")
        self.assertEqual(self.call("PUT", "/access/password",
                                   {"userid": "alice@pve", "password": "changed-pw"}, headers=self.write)[0], 200)
        self.assertEqual(self.call("POST", "/access/ticket",
                                   {"username": "alice@pve", "password": "alice-pw"})[0], 401)
        self.assertEqual(self.mock.login("alice@pve", "changed-pw")["username"], "alice@pve")
        self.assertEqual(self.call("DELETE", "/access/users/alice@pve", headers=self.write)[0], 200)
        self.assertEqual(self.call("POST", "/access/ticket",
                                   {"username": "alice@pve", "password": "changed-pw"})[0], 401)

    def test_unauthenticated_calls_are_exactly_proxmox_list(self):
        self.assertEqual(self.call("GET", "/access/domains")[0], 200)
        for method, path in (("GET", "/version"), ("GET", "/nodes"), ("GET", "/access/users"),
                             ("DELETE", "/pools/x")):
            self.assertEqual(self.call(method, path)[:2], (401, "No ticket"), path)

    # --- Keep-alive --------------------------------------------------------------------
    def test_keep_alive_until_an_error_then_close(self):
        conn = self.mock.connection()
        for _ in range(5):
            self.assertEqual(self.mock.request("GET", "/version", headers=self.cookie, conn=conn)[0], 200)
        status, _, headers, _ = self.mock.request("GET", "/nodes/nope/status", headers=self.cookie, conn=conn)
        self.assertGreaterEqual(status, 400)
        self.assertEqual(headers["connection"], "close")
        conn.close()


class BadInputTest(unittest.TestCase):
    """Every kind of bad input gets a clear answer (or the connection closed), and the server
    keeps serving everyone else."""

    @classmethod
    def setUpClass(cls):
        cls.mock = pvetest.PveMock(ARGS.pve_mock, STATE.path, "bad",
                                   ["--reset", "--plain_http", "--idle_timeout_ms=2000"])
        cls.addClassCleanup(pvetest.stop, cls.mock)
        cls.ticket = cls.mock.login()
        cls.cookie = "Cookie: PVEAuthCookie=%s\r\n" % cls.ticket["ticket"]
        cls.csrf = "CSRFPreventionToken: %s\r\n" % cls.ticket["CSRFPreventionToken"]

    def tearDown(self):
        # Whatever the test sent, the server still answers a good client.
        status = self.mock.request("GET", "/version",
                                   headers={"Cookie": "PVEAuthCookie=" + self.ticket["ticket"]})[0]
        self.assertEqual(status, 200)

    def status_line(self, payload):
        reply = self.mock.raw(payload)
        return reply.split(b"\r\n", 1)[0].decode("latin-1"), reply

    def test_malformed_request_lines(self):
        for payload in (b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET /api2/json/version HTTP/x\r\n\r\n",
                        b"\x16\x03\x01\x00\xff\r\n\r\n"):
            line, _ = self.status_line(payload)
            self.assertTrue(line.endswith("400 bad request") or line == "", (payload, line))
        line, _ = self.status_line(b"GET /api2/json/version HTTP/2.0\r\nHost: x\r\n\r\n")
        self.assertIn("506 http protocol version 2.0 not supported", line)

    def test_methods_pveproxy_does_not_know(self):
        for method in ("HEAD", "OPTIONS", "PATCH", "TRACE"):
            line, reply = self.status_line(("%s /api2/json/version HTTP/1.1\r\nHost: x\r\n\r\n" % method).encode())
            self.assertEqual(line, "HTTP/1.1 501 method '%s' not available" % method, reply)

    def test_header_limits(self):
        line, _ = self.status_line(b"GET /api2/json/version HTTP/1.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
        self.assertEqual(line, "HTTP/1.1 431 request header too large")
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(70))
        line, _ = self.status_line(b"GET /api2/json/version HTTP/1.1\r\n" + many + b"\r\n")
        self.assertEqual(line, "HTTP/1.1 431 too many header fields")

    def test_bodies_pveproxy_refuses(self):
        line, _ = self.status_line(b"GET /api2/json/version HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
        self.assertEqual(line, "HTTP/1.1 501 Unexpected content for method 'GET'")
        line, _ = self.status_line(b"POST /api2/json/pools HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        self.assertEqual(line, "HTTP/1.1 501 chunked transfer encoding not supported")
        line, _ = self.status_line(b"POST /api2/json/pools HTTP/1.1\r\nContent-Length: 600000\r\n\r\n")
        self.assertEqual(line, "HTTP/1.1 501 for data too large")
        line, _ = self.status_line(b"POST /api2/json/pools HTTP/1.1\r\nContent-Length: abc\r\n\r\n")
        self.assertEqual(line, "HTTP/1.1 400 bad request")

    def post(self, body, content_type):
        return self.status_line(("POST /api2/json/pools HTTP/1.1\r\n%s%sContent-Type: %s\r\n"
                                 "Content-Length: %d\r\n\r\n" % (self.cookie, self.csrf, content_type,
                                                                 len(body))).encode() + body)

    def test_bad_bodies_and_parameters(self):
        line, reply = self.post(b"poolid=%zz", "application/x-www-form-urlencoded")
        self.assertEqual(line, "HTTP/1.1 400 malformed percent-escape in the value of parameter 'poolid'")
        self.assertIn(b'"message":', reply)
        line, _ = self.post(b"poolid=%ff%fe", "application/x-www-form-urlencoded")
        self.assertEqual(line, "HTTP/1.1 400 parameter 'poolid' is not valid UTF-8")
        line, _ = self.post(b"[1,2]", "application/json")
        self.assertEqual(line, "HTTP/1.1 400 the JSON body must be an object")
        line, _ = self.post(b"{\"poolid\": ", "application/json")
        self.assertTrue(line.startswith("HTTP/1.1 400 malformed JSON body"), line)
        line, _ = self.post(b"{\"poolid\": {\"a\": 1}}", "application/json")
        self.assertEqual(line, "HTTP/1.1 400 parameter 'poolid': an object is not a parameter value")
        line, reply = self.post(b"<xml/>", "text/xml")
        self.assertEqual(line, "HTTP/1.1 506 upload 'Content-Type 'text/xml' not implemented")
        header_lines = reply.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]
        self.assertFalse([h for h in header_lines if h.lower().startswith(b"content-type:")])
        line, _ = self.status_line(b"GET /api2/json/nodes/%zz HTTP/1.1\r\n" + self.cookie.encode() + b"\r\n")
        self.assertTrue(line.startswith("HTTP/1.1 400"), line)

    def test_slow_and_silent_clients_are_cut_off(self):
        start = time.monotonic()
        reply = self.mock.raw(b"GET /api2/json/version HTTP/1.1\r\nHost: x\r\n", timeout=10)
        self.assertEqual(reply, b"", "an unfinished head is dropped at the idle timeout")
        self.assertLess(time.monotonic() - start, 9, "closed by the server, not by our timeout")
        reply = self.mock.raw(b"", timeout=10)
        self.assertEqual(reply, b"")

    def test_connection_limit_leaves_others_served(self):
        # A hundred idle connections do not stop a good client (the limit is 1000).
        import socket
        socks = [socket.create_connection((self.mock.host, self.mock.port)) for _ in range(100)]
        try:
            status = self.mock.request("GET", "/version",
                                       headers={"Cookie": "PVEAuthCookie=" + self.ticket["ticket"]})[0]
            self.assertEqual(status, 200)
        finally:
            for s in socks:
                s.close()


class FaultRuleTest(unittest.TestCase):
    """--fault rules, as the real-mode tests use them."""

    @classmethod
    def setUpClass(cls):
        cls.mock = pvetest.PveMock(ARGS.pve_mock, STATE.path, "faults", [
            "--reset", "--plain_http", "--auth=none",
            "--fault=GET /nodes/*/status=delay:300",
            "--fault=GET /cluster/**=status:503:upstream busy,times=2",
            "--fault=/pools=close",
            "--fault=GET /version=truncate",
            "--fault=GET /access/domains=garbage",
            "--fault=DELETE /storage/*=hang",
        ])
        cls.addClassCleanup(pvetest.stop, cls.mock)

    def test_delay(self):
        start = time.monotonic()
        status = self.mock.request("GET", "/nodes/pve1/status")[0]
        self.assertEqual(status, 200)
        self.assertGreaterEqual(time.monotonic() - start, 0.3)

    def test_status_for_a_while_then_normal(self):
        for _ in range(2):
            self.assertEqual(self.mock.request("GET", "/cluster/resources")[:2], (503, "upstream busy"))
        self.assertEqual(self.mock.request("GET", "/cluster/resources")[0], 200)

    def test_close_truncate_garbage(self):
        reply = self.mock.raw(b"GET /api2/json/pools HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(reply, b"")
        reply = self.mock.raw(b"GET /api2/json/version HTTP/1.1\r\nHost: x\r\n\r\n")
        head, body = reply.split(b"\r\n\r\n", 1)
        length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
        self.assertLess(len(body), length)
        status, _, _, body = self.mock.request("GET", "/access/domains")
        self.assertEqual(status, 200)
        with self.assertRaises(ValueError):
            json.loads(body)

    def test_hang_until_the_client_gives_up(self):
        start = time.monotonic()
        reply = self.mock.raw(b"DELETE /api2/json/storage/local HTTP/1.1\r\nHost: x\r\n\r\n", timeout=0.5)
        self.assertEqual(reply, b"")
        self.assertGreaterEqual(time.monotonic() - start, 0.5)

    def test_auth_none_acts_as_root(self):
        self.assertEqual(self.mock.request("GET", "/nodes")[0], 200)
        self.assertIn("auth=none", self.mock.log())


class OperationsTest(unittest.TestCase):
    def test_help_and_bad_configuration(self):
        out = subprocess.run([ARGS.pve_mock, "--help"], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0)
        for flag in ("--listen", "--tls_cert", "--auth", "--fault", "--root_password", "--reset",
                     "--snapshot_on_exit"):
            self.assertIn(flag, out.stdout)
        for args, message in ((["--auth=maybe"], "--auth=maybe is not one of"),
                              (["--fault=/x=explode"], "unknown action 'explode'"),
                              (["--fault=nopath"], "no '='"),
                              (["--listen=nowhere"], "is not host:port"),
                              (["--tls_cert=/nonexistent.pem"], "--tls_cert and --tls_key go together"),
                              (["--tls_cert=/nonexistent.pem", "--tls_key=/nonexistent.key"],
                               "cannot read TLS certificate /nonexistent.pem"),
                              (["--ticket_lifetime_s=0"], "--ticket_lifetime_s")):
            out = subprocess.run([ARGS.pve_mock, "--listen=127.0.0.1:0"] + args, capture_output=True,
                                 text=True, timeout=30, env=dict(os.environ, PROXMOX_MOCK_STATE_DIR=STATE.path))
            self.assertEqual(out.returncode, 2, (args, out.stderr))
            self.assertIn(message, out.stderr, args)

    def test_ticket_expiry_and_renewal(self):
        mock = pvetest.PveMock(ARGS.pve_mock, STATE.path, "expiry",
                               ["--reset", "--plain_http", "--ticket_lifetime_s=5"])
        try:
            first = mock.login()
            renewed_status, _, _, body = mock.request(
                "POST", "/access/ticket", {"username": "root@pam", "password": first["ticket"]})
            self.assertEqual(renewed_status, 200)
            renewed = json.loads(body)["data"]
            cookie = lambda t: {"Cookie": "PVEAuthCookie=" + t}
            self.assertEqual(mock.request("GET", "/version", headers=cookie(first["ticket"]))[0], 200)
            pvetest.wait_until(
                lambda: mock.request("GET", "/version", headers=cookie(first["ticket"]))[0] == 401,
                timeout=20, what="the first ticket to expire")
            # An expired ticket cannot renew itself.
            self.assertEqual(mock.request("POST", "/access/ticket",
                                          {"username": "root@pam", "password": first["ticket"]})[0], 401)
            self.assertIn(renewed["ticket"][:4], "PVE:")
        finally:
            self.assertEqual(mock.terminate(), 0)

    def test_sigterm_snapshot_and_reload(self):
        snap = os.path.join(STATE.path, "snap.mdb")
        mock = pvetest.PveMock(ARGS.pve_mock, STATE.path, "snap",
                               ["--reset", "--plain_http", "--auth=none", "--snapshot_on_exit=" + snap])
        self.assertEqual(mock.request("POST", "/pools", {"poolid": "kept"})[0], 200)
        self.assertEqual(mock.terminate(), 0)
        self.assertIn("pve-mock stopped", mock.log())
        self.assertTrue(os.path.getsize(snap) > 0)
        mock = pvetest.PveMock(ARGS.pve_mock, STATE.path, "snap2",
                               ["--reset", "--plain_http", "--auth=none", "--load_snapshot=" + snap])
        try:
            pools = json.loads(mock.request("GET", "/pools")[3])["data"]
            self.assertIn("kept", [p["poolid"] for p in pools])
        finally:
            self.assertEqual(mock.terminate(), 0)


if __name__ == "__main__":
    sys.exit(pvetest.run_tests(globals(), gateway=False))
