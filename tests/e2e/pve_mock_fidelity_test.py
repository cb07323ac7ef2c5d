#!/usr/bin/python3
"""pve-mock answers like a real Proxmox host to what automation tools do through proxmoxer.

Each test drives pve-mock's REST API with Debian's python3-proxmoxer and asserts what a
PVE 8/9 host answers: NIC MACs, form values with '=', coherent access data (realms,
tokens, group members), storage list filters, task types and UPID ids.

Run by ctest; by hand:
  /usr/bin/python3 tests/e2e/pve_mock_fidelity_test.py --pve-mock build/bin/pve-mock
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvetest  # noqa: E402

from proxmoxer.core import ResourceException  # noqa: E402

ARGS = None
# qemu-server's print_net: "<model>=<MAC>" first; Proxmox's default mac_prefix BC:24:11.
MAC = r"BC:24:11:[0-9A-F]{2}:[0-9A-F]{2}:[0-9A-F]{2}"


class FidelityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        pvetest.mock_for_class(cls, ARGS.pve_mock, "fidelity", ["--reset"], "fidelity-pw",
                               env={"PROXMOX_MOCK_TASK_DURATION_MS": "100"})
        cls.px = cls.mock.proxmoxer(user="root@pam", password="fidelity-pw")
        cls.node = cls.px.nodes("pve1")
        token = cls.px.access.users("root@pam").token("fidelity").post(privsep=0)
        cls.token = "root@pam!fidelity=" + token["value"]

    def wait_task(self, upid):
        return self.wait_task_on("pve1", upid)

    def wait_task_on(self, node, upid):
        status = pvetest.wait_task_stopped(self.px, node, upid, interval=0.05)
        self.assertEqual(status["exitstatus"], "OK", status)
        return status

    # --- 1. NICs get a MAC ---------------------------------------------------------------
    def test_vm_nic_gets_a_proxmox_mac_and_a_second_nic_can_be_added(self):
        self.wait_task(self.node.qemu.post(vmid=610, name="nic-vm", net0="virtio,bridge=vmbr0,firewall=1"))
        config = self.node.qemu(610).config.get()
        self.assertRegex(config["net0"], "^virtio=" + MAC + ",bridge=vmbr0,firewall=1$")
        mac0 = config["net0"].split(",")[0].split("=")[1]
        # A MAC the client sends is kept; model=/macaddr= keys are printed the Proxmox way.
        self.node.qemu(610).config.put(net1="model=e1000,macaddr=BC:24:11:00:00:01,bridge=vmbr1")
        self.node.qemu(610).config.put(net2="bridge=vmbr0,virtio")
        config = self.node.qemu(610).config.get()
        self.assertEqual(config["net0"].split(",")[0], "virtio=" + mac0, "MAC must stay")
        self.assertEqual(config["net1"], "e1000=BC:24:11:00:00:01,bridge=vmbr1")
        self.assertRegex(config["net2"], "^virtio=" + MAC + ",bridge=vmbr0$")
        self.assertNotEqual(config["net2"], config["net0"])
        # A clone gets new MACs, as qemu-server's clone_vm gives it.
        self.wait_task(self.node.qemu(610).clone.post(newid=611))
        clone = self.node.qemu(611).config.get()
        self.assertRegex(clone["net0"], "^virtio=" + MAC + ",bridge=vmbr0,firewall=1$")
        self.assertNotEqual(clone["net0"], config["net0"])

    def test_container_nic_gets_hwaddr_and_type_veth(self):
        self.wait_task(self.node.lxc.post(vmid=620, hostname="nic-ct",
                                          ostemplate="local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
                                          net0="name=eth0,ip=dhcp,bridge=vmbr0"))
        net0 = self.node.lxc(620).config.get()["net0"]
        # pve-container's print_lxc_network: name first, then the keys sorted.
        self.assertRegex(net0, "^name=eth0,bridge=vmbr0,hwaddr=" + MAC + ",ip=dhcp,type=veth$")

    # --- 2. Form values keep their '=' ---------------------------------------------------
    def test_values_with_equals_signs_round_trip(self):
        self.wait_task(self.node.qemu.post(vmid=630, name="eq-vm"))
        # proxmoxer percent-encodes '=' and ',' in form bodies, as pveproxy requires.
        self.node.qemu(630).config.put(description="a=b", boot="order=scsi0;net0")
        config = self.node.qemu(630).config.get()
        self.assertEqual(config["description"], "a=b")
        self.assertEqual(config["boot"], "order=scsi0;net0")

    # --- 3. Storage content paths with raw slashes -----------------------------------------
    def test_volume_ids_route_with_raw_slashes(self):
        volid = "local:iso/ubuntu-24.04.1-live-server-amd64.iso"
        # proxmoxer puts the volume id into the path as it is: "local:iso/ubuntu...iso".
        info = self.px("nodes/pve1/storage/local/content/" + volid).get()
        self.assertEqual(info, {"path": "/var/lib/vz/template/iso/ubuntu-24.04.1-live-server-amd64.iso",
                                "size": 2773874688, "used": 2773874688, "format": "iso"})
        lvm = self.node.storage("local-lvm").content.get(vmid=100)
        self.assertEqual([v["volid"] for v in lvm], ["local-lvm:vm-100-disk-0"])
        self.assertEqual(self.node.storage("local-lvm").content("local-lvm:vm-100-disk-0").get()["path"],
                         "/dev/pve/vm-100-disk-0")
        upid = self.px("nodes/pve2/storage/local/content/" + volid).delete()
        self.assertEqual(self.upid_fields(upid), ["imgdel", ""])
        self.wait_task_on("pve2", upid)
        self.assertNotIn(volid, [v["volid"] for v in self.px.nodes("pve2").storage("local").content.get()])
        with self.assertRaises(ResourceException) as err:
            self.px("nodes/pve2/storage/local/content/" + volid).get()
        self.assertEqual(err.exception.status_code, 500)
        self.assertIn(volid, str(err.exception))

    # --- 4. Disk operations change the world ---------------------------------------------
    def volumes(self, storage="local-lvm", vmid=None):
        rows = self.node.storage(storage).content.get(**({"vmid": vmid} if vmid else {}))
        return {v["volid"]: v for v in rows}

    def test_disk_operations_change_config_and_storage(self):
        self.wait_task(self.node.qemu.post(vmid=660, name="disk-vm", scsi0="local-lvm:2",
                                           scsi1="local-lvm:1", scsi2="local-lvm:1"))
        config = self.node.qemu(660).config.get()
        self.assertEqual(config["scsi0"], "local-lvm:vm-660-disk-0,size=2G")
        self.assertEqual(self.volumes(vmid=660)["local-lvm:vm-660-disk-0"]["size"], 2 << 30)
        # resize grows the disk and its size=.
        self.wait_task(self.node.qemu(660).resize.put(disk="scsi0", size="+1G"))
        self.assertEqual(self.node.qemu(660).config.get()["scsi0"],
                         "local-lvm:vm-660-disk-0,size=3G")
        self.assertEqual(self.volumes(vmid=660)["local-lvm:vm-660-disk-0"]["size"], 3 << 30)
        with self.assertRaises(ResourceException) as err:
            self.node.qemu(660).resize.put(disk="scsi0", size="1G")
        self.assertIn("shrinking disks is not supported", str(err.exception))
        # Deleting a disk key detaches the volume to unusedN; deleting unusedN destroys it.
        self.node.qemu(660).config.put(delete="scsi1")
        config = self.node.qemu(660).config.get()
        self.assertNotIn("scsi1", config)
        self.assertEqual(config["unused0"], "local-lvm:vm-660-disk-1")
        self.node.qemu(660).config.put(delete="unused0")
        self.assertNotIn("local-lvm:vm-660-disk-1", self.volumes(vmid=660))
        # unlink with force removes key and volume.
        self.node.qemu(660).unlink.put(idlist="scsi2", force=1)
        self.assertNotIn("scsi2", self.node.qemu(660).config.get())
        self.assertNotIn("local-lvm:vm-660-disk-2", self.volumes(vmid=660))
        # template: template 1, disks renamed to base-<vmid>-disk-<n>.
        self.wait_task(self.node.qemu(660).template.post())
        config = self.node.qemu(660).config.get()
        self.assertEqual(str(config["template"]), "1")
        self.assertEqual(config["scsi0"], "local-lvm:base-660-disk-0,size=3G")
        self.assertEqual(list(self.volumes(vmid=660)), ["local-lvm:base-660-disk-0"])

    def test_vm_disk_on_storage_without_images_is_refused(self):
        status, _, _, body = self.mock.request(
            "POST", "/nodes/pve1/qemu", {"vmid": "661", "scsi0": "local:4"},
            {"Authorization": "PVEAPIToken=" + self.token})
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["errors"],
                         {"storage": "storage 'local' does not support vm images"})

    def test_container_disk_on_storage_without_rootdir_is_refused(self):
        # pve-container API2/LXC.pm create_vm: a 400 for `storage`, for rootfs and mount points.
        tmpl = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
        for extra in ({"rootfs": "local:4"}, {"rootfs": "local-lvm:4", "mp0": "local:2,mp=/data"}):
            with self.assertRaises(ResourceException) as err:
                self.node.lxc.post(vmid=662, hostname="ct-disk", ostemplate=tmpl, **extra)
            self.assertEqual(err.exception.status_code, 400)
            # proxmoxer 1.2 does not hand over `errors`: read them from the answer itself.
            status, _, _, body = self.mock.request(
                "POST", "/nodes/pve1/lxc", dict(vmid="662", ostemplate=tmpl, **extra),
                {"Authorization": "PVEAPIToken=" + self.token})
            self.assertEqual(status, 400)
            self.assertEqual(json.loads(body)["errors"],
                             {"storage": "storage 'local' does not support container directories"})
        self.assertNotIn(662, [ct["vmid"] for ct in self.node.lxc.get()])
        # LXC/Config.pm update_pct_config: on update the config check dies (a 500).
        self.wait_task(self.node.lxc.post(vmid=663, hostname="ct-disk", ostemplate=tmpl,
                                          rootfs="local-lvm:1"))
        with self.assertRaises(ResourceException) as err:
            self.node.lxc(663).config.put(mp0="local:2,mp=/data")
        self.assertEqual(err.exception.status_code, 500)
        self.assertIn("storage 'local' does not allow content type 'rootdir' (Container)",
                      str(err.exception))
        self.node.lxc(663).config.put(mp0="local-lvm:2,mp=/data")
        self.assertEqual(self.node.lxc(663).config.get()["mp0"],
                         "local-lvm:vm-663-disk-1,mp=/data,size=2G")

    # --- 3. Uploads (multipart/form-data, as pveproxy receives them) ----------------------
    def upload_file(self, name, data):
        path = os.path.join(self.state.path, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def task_end(self, upid):
        def stopped():
            status = self.px.nodes("pve1").tasks(upid).status.get()
            return status if status["status"] == "stopped" else None
        return pvetest.wait_until(stopped, timeout=15, interval=0.05, what="task " + upid)

    def test_upload_creates_the_volume_with_its_size(self):
        data = os.urandom(600 * 1024)  # above the 512 KiB limit of other bodies
        with open(self.upload_file("upload-test.iso", data), "rb") as f:
            upid = self.node.storage("local").upload.post(content="iso", filename=f)
        # pve-storage's upload: fork_worker('imgcopy', undef, ...) - the UPID's id is empty.
        self.assertEqual(self.upid_fields(upid), ["imgcopy", ""])
        self.wait_task(upid)
        iso = self.volumes("local")["local:iso/upload-test.iso"]
        self.assertEqual((iso["size"], iso["format"], iso["content"]), (len(data), "iso", "iso"))
        info = self.node.storage("local").content("local:iso/upload-test.iso").get()
        self.assertEqual(info["path"], "/var/lib/vz/template/iso/upload-test.iso")
        self.assertEqual(info["size"], len(data))
        # A template and an import image; the file name is normalised as pve-storage does.
        with open(self.upload_file("my tmpl.tar.zst", b"x" * 10), "rb") as f:
            self.wait_task(self.node.storage("local").upload.post(content="vztmpl", filename=f))
        self.assertEqual(self.volumes("local")["local:vztmpl/my_tmpl.tar.zst"]["size"], 10)

    def test_upload_verifies_the_checksum_in_its_task(self):
        data = b"checksummed image"
        good = hashlib.sha256(data).hexdigest()
        with open(self.upload_file("sum-ok.iso", data), "rb") as f:
            self.wait_task(self.node.storage("local").upload.post(
                content="iso", filename=f, checksum=good.upper(),
                **{"checksum-algorithm": "sha256"}))
        self.assertIn("local:iso/sum-ok.iso", self.volumes("local"))
        with open(self.upload_file("sum-bad.iso", data), "rb") as f:
            upid = self.node.storage("local").upload.post(
                content="iso", filename=f, checksum="0" * 32, **{"checksum-algorithm": "md5"})
        status = self.task_end(upid)
        self.assertEqual(status["exitstatus"], "checksum mismatch: got '%s' != expect '%s'"
                         % (hashlib.md5(data).hexdigest(), "0" * 32))
        log = [line["t"] for line in self.node.tasks(upid).log.get()]
        self.assertEqual(log[-1], "TASK ERROR: " + status["exitstatus"])
        self.assertNotIn("local:iso/sum-bad.iso", self.volumes("local"))

    def test_upload_refusals_are_proxmox_texts(self):
        with open(self.upload_file("notes.txt", b"text"), "rb") as f:
            with self.assertRaises(ResourceException) as err:
                self.node.storage("local").upload.post(content="iso", filename=f)
        self.assertEqual(err.exception.status_code, 400)
        # proxmoxer 1.2 does not hand over `errors`: the same upload with requests.
        import requests
        with open(self.upload_file("notes.txt", b"text"), "rb") as f:
            resp = requests.post(self.mock.url + "/nodes/pve1/storage/local/upload",
                                 data={"content": "iso"}, files={"filename": f},
                                 headers={"Authorization": "PVEAPIToken=" + self.token},
                                 verify=self.mock.cert_file, timeout=10)
        self.assertEqual(resp.status_code, 400)
        self.assertEqual(resp.json()["errors"], {"filename": "wrong file extension"})
        with open(self.upload_file("disk.img", b"img"), "rb") as f:
            with self.assertRaises(ResourceException) as err:
                self.node.storage("nfs-backup").upload.post(content="iso", filename=f)
        self.assertEqual(err.exception.status_code, 500)
        self.assertIn("storage 'nfs-backup' does not support 'iso' content", str(err.exception))
        with open(self.upload_file("disk2.img", b"img"), "rb") as f:
            with self.assertRaises(ResourceException) as err:
                self.node.storage("local-lvm").upload.post(content="iso", filename=f)
        self.assertIn("can't upload to storage type 'lvmthin'", str(err.exception))
        self.assertNotIn("local:iso/disk.img", self.volumes("local"))

    def test_upload_with_curl_and_the_size_limit(self):
        # A second pve-mock on the same world, with a small upload limit.
        small = pvetest.PveMock(ARGS.pve_mock, self.state.path, "fidelity", ["--max_upload_bytes=4096"])
        try:
            url = small.url + "/nodes/pve1/storage/local/upload"
            curl = ["curl", "-sS", "--cacert", small.cert_file, "-H",
                    "Authorization: PVEAPIToken=" + self.token, "-o", "-", "-w", "\n%{http_code}"]
            ok = subprocess.run(curl + ["-F", "content=iso", "-F",
                                        "filename=@" + self.upload_file("curl.iso", b"c" * 1000), url],
                                capture_output=True, text=True, timeout=30, check=True)
            body, code = ok.stdout.rsplit("\n", 1)
            self.assertEqual(code, "200", ok.stdout)
            self.wait_task(json.loads(body)["data"])
            self.assertEqual(self.volumes("local")["local:iso/curl.iso"]["size"], 1000)
            big = subprocess.run(curl + ["-F", "content=iso", "-F",
                                         "filename=@" + self.upload_file("big.iso", b"b" * 5000), url],
                                 capture_output=True, text=True, timeout=30)
            self.assertTrue(big.stdout.endswith("\n413"), big.stdout + big.stderr)
            self.assertNotIn("local:iso/big.iso", self.volumes("local"))
        finally:
            self.assertEqual(small.terminate(), 0, small.log())

    # --- 7. No placeholders anywhere -----------------------------------------------------
    FILLER = re.compile(r"^(?:[A-Za-z][A-Za-z0-9_-]*[-_][0-9a-f]{4}|mock( .*)?)$")
    PROXMOX_ID = re.compile(r"^backup-[0-9a-f]{8}-[0-9a-f]{4}$")  # pve-manager's backup job ids
    CHILD_KEYS = ("subdir", "name", "vmid", "node", "storage", "volid", "userid", "groupid",
                  "realm", "roleid", "poolid", "id", "iface", "upid", "snapname", "pos")

    def test_a_crawl_of_a_fresh_world_finds_no_placeholders(self):
        """A client that follows every listing of a freshly seeded world (directories, guests,
        storages, volumes, users, firewall rules, ...) never reads a generated filler."""
        fresh = pvetest.PveMock(ARGS.pve_mock, self.state.path, "fresh-walk", ["--reset"],
                                env={"PVE_MOCK_ROOT_PASSWORD": "walk-pw"})
        try:
            px = fresh.proxmoxer(user="root@pam", password="walk-pw")
            found, answered = [], 0
            queue, seen = ["access", "cluster", "nodes", "pools", "storage", "version"], set()
            while queue and answered < 2000:
                path = queue.pop(0)
                if path in seen or path.count("/") > 8:
                    continue
                seen.add(path)
                try:
                    data = px(path).get()
                except ResourceException:
                    continue  # POST-only paths, calls that need parameters
                answered += 1
                self.find_fillers(data, path, found)
                for row in data if isinstance(data, list) else []:
                    if not isinstance(row, dict):
                        continue
                    for key in self.CHILD_KEYS:
                        if isinstance(row.get(key), (str, int)) and str(row[key]) != "current":
                            queue.append("%s/%s" % (path, row[key]))
                            break
            print("crawl: %d GETs answered" % answered, file=sys.stderr)
            self.assertGreater(answered, 250, "the crawl must reach most of the API")
            self.assertEqual(found, [])
        finally:
            self.assertEqual(fresh.terminate(), 0, fresh.log())

    def find_fillers(self, value, where, found):
        if isinstance(value, str):
            if self.FILLER.match(value) and not self.PROXMOX_ID.match(value):
                found.append("%s=%s" % (where, value))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.find_fillers(v, "%s[%d]" % (where, i), found)
        elif isinstance(value, dict):
            for k, v in value.items():
                self.find_fillers(v, "%s.%s" % (where, k), found)

    # --- 5. Snapshot rollback stops the guest --------------------------------------------
    def status(self, kind, vmid):
        return getattr(self.node, kind)(vmid).status.current.get()["status"]

    def test_rollback_stops_a_running_guest_unless_asked_to_start(self):
        for kind, vmid, create in (("qemu", 650, {"name": "rb-vm"}),
                                   ("lxc", 651, {"hostname": "rb-ct", "ostemplate":
                                                 "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"})):
            guests = getattr(self.node, kind)
            self.wait_task(guests.post(vmid=vmid, **create))
            self.wait_task(guests(vmid).status.start.post())
            self.wait_task(guests(vmid).snapshot.post(snapname="before"))
            self.assertEqual(self.status(kind, vmid), "running")
            self.wait_task(guests(vmid).snapshot("before").rollback.post())
            self.assertEqual(self.status(kind, vmid), "stopped", kind)
            self.wait_task(guests(vmid).snapshot("before").rollback.post(start=1))
            self.assertEqual(self.status(kind, vmid), "running", kind)
        # A VM snapshot with RAM resumes the VM.
        self.wait_task(self.node.qemu(650).snapshot.post(snapname="ram", vmstate=1))
        self.wait_task(self.node.qemu(650).status.stop.post())
        self.wait_task(self.node.qemu(650).snapshot("ram").rollback.post())
        self.assertEqual(self.status("qemu", 650), "running")

    def test_appliances_and_download_url_create_volumes(self):
        appliances = self.node.aplinfo.get()
        debian = [a for a in appliances if a["os"] == "debian-12"][0]
        self.assertEqual(debian["template"], "debian-12-standard_12.7-1_amd64.tar.zst")
        self.assertEqual(debian["type"], "lxc")
        self.assertTrue(debian["source"].startswith("http://download.proxmox.com/images/system/"))
        ubuntu = [a["template"] for a in appliances if a["os"] == "ubuntu-24.04"][0]
        upid = self.node.aplinfo.post(storage="local", template=ubuntu)
        self.assertEqual(self.upid_fields(upid)[0], "download")
        self.wait_task(upid)
        self.assertIn("local:vztmpl/" + ubuntu, self.volumes("local"))
        with self.assertRaises(ResourceException) as err:
            self.node.aplinfo.post(storage="local", template="made-up_1.0_amd64.tar.zst")
        self.assertIn("no such template", str(err.exception))

        upid = self.node.storage("local").post("download-url", content="iso", filename="alpine.iso",
                                               url="https://example.invalid/alpine.iso")
        self.assertEqual(self.upid_fields(upid)[0], "download")
        self.wait_task(upid)
        iso = self.volumes("local")["local:iso/alpine.iso"]
        self.assertEqual((iso["content"], iso["format"]), ("iso", "iso"))
        with self.assertRaises(ResourceException) as err:
            self.node.storage("local-lvm").post("download-url", content="iso", filename="x.iso",
                                                url="https://example.invalid/x.iso")
        self.assertIn("is not configured for content-type 'iso'", str(err.exception))

    # --- 6. Access data is coherent ------------------------------------------------------
    def test_realms_are_pam_and_pve(self):
        realms = {d["realm"]: d for d in self.px.access.domains.get()}
        self.assertEqual(sorted(realms), ["pam", "pve"])
        self.assertEqual(realms["pam"]["type"], "pam")
        self.assertEqual(realms["pam"]["comment"], "Linux PAM standard authentication")
        self.assertEqual(self.px.access.domains("pam").get()["type"], "pam")
        self.assertEqual(self.px.access.domains("pve").get()["type"], "pve")

    def test_tokens_are_the_ones_created(self):
        user = self.px.access.users("ci-bot@pve")
        self.assertEqual(user.token.get(), [])
        user.token("deploy").post(privsep=1, comment="deploys")
        self.assertEqual([(t["tokenid"], t["comment"]) for t in user.token.get()],
                         [("deploy", "deploys")])
        full = {u["userid"]: u for u in self.px.access.users.get(full=1)}
        self.assertEqual([t["tokenid"] for t in full["ci-bot@pve"]["tokens"]], ["deploy"])
        self.assertEqual(full["root@pam"]["tokens"], [{"tokenid": "fidelity", "privsep": 0}])
        # Without full=1, Proxmox lists no tokens.
        self.assertNotIn("tokens", {u["userid"]: u for u in self.px.access.users.get()}["ci-bot@pve"])
        user.token("deploy").delete()
        self.assertEqual(user.token.get(), [])

    def test_group_members_follow_the_users_groups(self):
        self.px.access.groups.post(groupid="ops", comment="Operations")
        self.assertEqual(self.px.access.groups("ops").get()["members"], [])
        self.px.access.users.post(userid="olga@pve", groups="ops,admins")
        self.assertEqual(self.px.access.groups("ops").get(),
                         {"comment": "Operations", "members": ["olga@pve"]})
        self.assertEqual(sorted(self.px.access.groups("admins").get()["members"]),
                         ["admin@pve", "olga@pve"])
        groups = {g["groupid"]: g for g in self.px.access.groups.get()}
        self.assertEqual(groups["ops"]["users"], "olga@pve")

    def test_storage_lists_filter_like_proxmox(self):
        self.assertEqual([s["storage"] for s in self.px.storage.get(type="dir")], ["local"])
        self.assertEqual([s["storage"] for s in self.px.storage.get(type="nfs")], ["nfs-backup"])
        isos = self.node.storage("local").content.get(content="iso")
        self.assertTrue(isos)
        self.assertEqual({v["content"] for v in isos}, {"iso"})
        # A volume lists what Proxmox lists for it, no generated fillers.
        for volume in self.node.storage("local").content.get():
            self.assertLessEqual(set(volume), {"volid", "content", "format", "size", "ctime",
                                                "vmid", "notes", "protected", "parent", "used"},
                                 volume)

    # --- 7. No placeholders -------------------------------------------------------------
    def test_pending_lists_the_config(self):
        self.wait_task(self.node.qemu.post(vmid=670, name="pending-vm", memory=1024))
        pending = {row["key"]: row for row in self.node.qemu(670).pending.get()}
        self.assertEqual(pending["name"]["value"], "pending-vm")
        self.assertEqual(str(pending["memory"]["value"]), "1024")
        self.assertEqual(pending["digest"]["value"], self.node.qemu(670).config.get()["digest"])
        for key in pending:
            self.assertNotRegex(key, r"^[a-z_-]+-[0-9a-f]{4}$")

    # --- 8. Task types as Proxmox names them ---------------------------------------------
    def upid_fields(self, upid):
        # UPID:node:pid:pstart:starttime:type:id:user:
        return upid.split(":")[5:7]

    def wait_typed_task(self, upid, task_type, task_id):
        """The UPID names the task's type and id as Proxmox does; waits for it to end OK."""
        self.assertEqual(self.upid_fields(upid), [task_type, task_id])
        return self.wait_task(upid)

    def test_task_types_and_ids_are_proxmox_names(self):
        self.wait_task(self.node.qemu.post(vmid=640, name="task-vm", scsi0="local-lvm:1"))
        vm = self.node.qemu(640)
        status = self.wait_typed_task(vm.snapshot.post(snapname="s1"), "qmsnapshot", "640")
        self.assertEqual(status["type"], "qmsnapshot")
        self.wait_typed_task(vm.snapshot("s1").rollback.post(), "qmrollback", "640")
        self.wait_typed_task(vm.snapshot("s1").delete(), "qmdelsnapshot", "640")
        self.wait_typed_task(vm.resize.put(disk="scsi0", size="+1G"), "resize", "640")
        self.wait_typed_task(vm.template.post(), "qmtemplate", "640")

        self.wait_task(self.node.lxc.post(vmid=641, hostname="task-ct",
                                          ostemplate="local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"))
        ct = self.node.lxc(641)
        self.wait_typed_task(ct.snapshot.post(snapname="c1"), "vzsnapshot", "641")
        self.wait_typed_task(ct.snapshot("c1").rollback.post(), "vzrollback", "641")
        self.wait_typed_task(ct.snapshot("c1").delete(), "vzdelsnapshot", "641")
        # pve-container converts a container to a template without a task (returns null).
        self.assertIsNone(self.node.lxc(641).template.post())
        for task in self.node.tasks.get(limit=500):
            self.assertIsNone(re.match(r"^(snapshot|template|delete|rollback)$", task["type"]),
                              task)


if __name__ == "__main__":
    sys.exit(pvetest.run_tests(globals(), gateway=False))
