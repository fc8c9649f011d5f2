# The linalg conformance family once per CPU dispatch path (CMLX_CPU_PATH, read by
# src/backend/cpu/arch/cpu_features.c), so the bf16 GEMM / decode kernels of every path are
# checked on this machine. A path the CPU cannot run falls back to the best one it can.
foreach(path portable avx2 avx512)
  add_test(NAME op_conformance_linalg_${path} COMMAND op_conformance linalg)
  set_tests_properties(op_conformance_linalg_${path} PROPERTIES ENVIRONMENT "CMLX_CPU_PATH=${path}" TIMEOUT 600)
endforeach()
