/* tests/v1_backend_plugin.cpp: a plugin as one built against backend ABI version 1 looks to the loader: it
 * exports fw_backend_register_v1 only. tests/test_backend.cpp checks it is refused with both versions named. */
extern "C" const void* fw_backend_register_v1() { return nullptr; }
