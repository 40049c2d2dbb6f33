{
  "targets": [
    {
      "target_name": "tcpconnect",
      "sources": ["native/addon.cc", "native/object.cc", "native/reader.cc", "native/rows.cc", "native/probes.cc", "native/errors.cc", "native/tracefs.cc"],
      "include_dirs": ["bpf", "<(module_root_dir)/.output"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=c++17", "-Wall", "<!@(pkg-config --cflags libbpf)"],
      "libraries": ["<!@(pkg-config --libs libbpf)"],
      "actions": [
        {
          "action_name": "bpf_objects",
          "inputs": ["bpf/tcpconnect.bpf.c", "bpf/tcpaccept.bpf.c", "bpf/common.bpf.h", "bpf/records.h", "bpf/kernel.h", "scripts/build-bpf.sh"],
          "outputs": ["<(module_root_dir)/.output/bpf_objects.h"],
          "action": ["sh", "<(module_root_dir)/scripts/build-bpf.sh", "<(module_root_dir)/.output"]
        }
      ]
    }
  ]
}
