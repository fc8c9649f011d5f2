# The linalg conformance family once per CPU dispatch path (CMLX_CPU_PATH, read by
# src/backend/cpu/arch/cpu_features.c), so the bf16 GEMM / decode kernels of every path are
# checked on this machine. A path the CPU cannot run falls back to the best one it can.
# On AVX-512 both bf16 GEMM kernels run: vdpbf16ps (chosen on AMD) and float32 FMA (chosen on
# Intel), forced with CMLX_BF16_DOT.
foreach(path portable avx2)
  add_test(NAME op_conformance_linalg_${path} COMMAND op_conformance linalg)
  set_tests_properties(op_conformance_linalg_${path} PROPERTIES ENVIRONMENT "CMLX_CPU_PATH=${path}" TIMEOUT 600)
endforeach()
foreach(dot dp fma)
  add_test(NAME op_conformance_linalg_avx512_${dot} COMMAND op_conformance linalg)
  set_tests_properties(op_conformance_linalg_avx512_${dot} PROPERTIES
    ENVIRONMENT "CMLX_CPU_PATH=avx512;CMLX_BF16_DOT=${dot}" TIMEOUT 600)
endforeach()
