{
  "targets": [
    {
      "target_name": "ediy_dnnl",
      "sources": ["native/addon.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(node scripts/dnnl-config.mjs include)"
      ],
      "libraries": ["<!@(node scripts/dnnl-config.mjs libs)"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-ffp-contract=off", "-fopenmp", "-fexceptions"],
      "ldflags": ["-fopenmp"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-ffp-contract=off", "-Xpreprocessor", "-fopenmp"],
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      }
    }
  ]
}
