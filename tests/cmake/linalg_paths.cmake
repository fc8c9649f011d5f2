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
# AMX tiles for the bf16 products of many rows (CMLX_CPU_PATH=amx; without AMX it runs avx512).
if(EXISTS /proc/cpuinfo)
  file(STRINGS /proc/cpuinfo _cmlx_lflags REGEX "^flags" LIMIT_COUNT 1)
  if(" ${_cmlx_lflags} " MATCHES "[ \t]amx_bf16[ \t]" AND " ${_cmlx_lflags} " MATCHES "[ \t]amx_tile[ \t]")
    add_test(NAME op_conformance_linalg_amx COMMAND op_conformance linalg)
    set_tests_properties(op_conformance_linalg_amx PROPERTIES ENVIRONMENT "CMLX_CPU_PATH=amx" TIMEOUT 600)
  endif()
endif()
# Attention's decode path computes its scores with the same 16-bit GEMV kernels (sdpa.c): the
# fast family once per path too.
foreach(path portable avx2 avx512)
  add_test(NAME op_conformance_fast_${path} COMMAND op_conformance fast)
  set_tests_properties(op_conformance_fast_${path} PROPERTIES ENVIRONMENT "CMLX_CPU_PATH=${path}" TIMEOUT 600)
endforeach()
