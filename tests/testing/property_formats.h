// Property-string formats as the schema's `property_format` option carries them (canonical
// JSON), shaped like qemu-server's: the tests of the property-string parser and its fuzz
// target read the same ones.
#ifndef PVEGW_TESTS_TESTING_PROPERTY_FORMATS_H_
#define PVEGW_TESTS_TESTING_PROPERTY_FORMATS_H_

namespace pvegw::testing {

// The shape of qemu's net[n] format.
constexpr char kNetFormat[] =
    R"({"bridge":{"format":"pve-bridge-id","optional":1,"type":"string"},)"
    R"("e1000":{"alias":"macaddr","keyAlias":"model"},)"
    R"("firewall":{"optional":1,"type":"boolean"},)"
    R"("macaddr":{"format":"mac-addr","optional":1,"type":"string"},)"
    R"("model":{"default_key":1,"enum":["e1000","virtio"],"type":"string"},)"
    R"("mtu":{"maximum":65520,"minimum":1,"optional":1,"type":"integer"},)"
    R"("rate":{"minimum":0,"optional":1,"type":"number"},)"
    R"("trunks":{"optional":1,"pattern":"\\d+(?:-\\d+)?(?:;\\d+(?:-\\d+)?)*","type":"string"},)"
    R"("virtio":{"alias":"macaddr","keyAlias":"model"}})";

// The shape of qemu's scsi[n] drive format.
constexpr char kDriveFormat[] =
    R"({"file":{"default_key":1,"format":"pve-volume-id-or-qm-path","type":"string"},)"
    R"("size":{"format":"disk-size","optional":1,"type":"string"},)"
    R"("format":{"enum":["raw","qcow2"],"optional":1,"requires":"size","type":"string"}})";

}  // namespace pvegw::testing

#endif  // PVEGW_TESTS_TESTING_PROPERTY_FORMATS_H_
