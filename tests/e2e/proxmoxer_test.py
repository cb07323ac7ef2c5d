#!/usr/bin/python3
"""proxmoxer (Debian's python3-proxmoxer), an independent Proxmox client, against pve-mock.

The real binary over HTTPS with its generated certificate as the CA file: password login,
an API token created through the API, a VM's lifecycle with form-encoded parameters and
task polling, and the refusals a client must see (wrong password, deleted token).

Run by ctest; by hand: /usr/bin/python3 tests/e2e/proxmoxer_test.py --pve-mock build/bin/pve-mock
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvetest  # noqa: E402

from proxmoxer.backends.https import AuthenticationError  # noqa: E402
from proxmoxer.core import ResourceException  # noqa: E402

ARGS = None


class ProxmoxerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        pvetest.mock_for_class(cls, ARGS.pve_mock, "proxmoxer", ["--reset"], "proxmoxer-pw",
                               env={"PROXMOX_MOCK_TASK_DURATION_MS": "400"})

    def wait_task(self, px, node, upid):
        return pvetest.wait_task_stopped(px, node, upid)

    def test_password_login_token_and_vm_lifecycle(self):
        px = self.mock.proxmoxer(user="root@pam", password="proxmoxer-pw")
        self.assertEqual(sorted(n["node"] for n in px.nodes.get()), ["pve1", "pve2"])

        token = px.access.users("root@pam").token("automation").post(privsep=0, comment="tests")
        self.assertEqual(token["full-tokenid"], "root@pam!automation")
        tk = self.mock.proxmoxer(user="root@pam", token_name="automation", token_value=token["value"])
        self.assertIn("version", tk.version.get())

        # proxmoxer sends these form-encoded; the ',' and '=' inside values are escaped.
        upid = tk.nodes("pve1").qemu.post(vmid=350, name="proxmoxer-vm", memory=2048, cores=2,
                                          net0="virtio,bridge=vmbr0", scsi0="local-lvm:8")
        self.assertRegex(upid, r"^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:qmcreate:350:")
        self.assertEqual(self.wait_task(tk, "pve1", upid)["exitstatus"], "OK")
        config = tk.nodes("pve1").qemu(350).config.get()
        self.assertEqual(config["name"], "proxmoxer-vm")
        self.assertEqual(str(config["cores"]), "2")
        self.assertTrue(config["net0"].startswith("virtio"), config["net0"])

        upid = tk.nodes("pve1").qemu(350).status.start.post()
        status = self.wait_task(tk, "pve1", upid)
        self.assertEqual(status["exitstatus"], "OK")
        self.assertEqual(status["type"], "qmstart")
        log = tk.nodes("pve1").tasks(upid).log.get()
        self.assertEqual(log[-1]["t"], "TASK OK")
        self.assertEqual(tk.nodes("pve1").qemu(350).status.current.get()["status"], "running")

        with self.assertRaises(ResourceException) as err:
            tk.nodes("pve1").qemu(350).delete()
        self.assertEqual(err.exception.status_code, 500)
        self.assertIn("is running - destroy failed", str(err.exception))

        self.wait_task(tk, "pve1", tk.nodes("pve1").qemu(350).status.stop.post())
        self.wait_task(tk, "pve1", tk.nodes("pve1").qemu(350).delete())
        with self.assertRaises(ResourceException) as err:
            tk.nodes("pve1").qemu(350).config.get()
        self.assertIn("does not exist", str(err.exception))

        # A deleted token is refused with 401.
        px.access.users("root@pam").token("automation").delete()
        with self.assertRaises(ResourceException) as err:
            tk.version.get()
        self.assertEqual(err.exception.status_code, 401)

    def test_wrong_password_is_refused(self):
        with self.assertRaises(AuthenticationError) as err:
            self.mock.proxmoxer(user="root@pam", password="not-the-password")
        self.assertIn("Couldn't authenticate user: root@pam", str(err.exception))


if __name__ == "__main__":
    sys.exit(pvetest.run_tests(globals(), gateway=False))
