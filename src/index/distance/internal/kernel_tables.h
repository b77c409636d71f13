// Private to index/distance: the per-instruction-set translation units each fill a kernel table.
//
// Each Fill* function is defined in a translation unit compiled with that instruction set's flags
// (see CMakeLists.txt) and must only be called when DetectCpu() reports the features. Those units
// keep their kernels in an anonymous namespace and include no header that instantiates templates
// shared with baseline code, so the linker can never pick an AVX copy of an inline function for
// baseline callers.
#pragma once

#include "index/distance/distance.h"

namespace skeg::index::internal {

// Every kernel, baseline x86-64 (or any architecture).
void FillScalarKernels(DistanceKernels* k);
// Overrides every kernel with AVX2 + FMA versions.
void FillAvx2Kernels(DistanceKernels* k);
// Overrides every kernel with AVX-512 F/BW/VL versions.
void FillAvx512Kernels(DistanceKernels* k);
// Overrides dot_i8 (VPDPWSSD) with AVX-512 VNNI versions.
void FillAvx512VnniKernels(DistanceKernels* k);
// Overrides hamming / hamming_batch with AVX-512 VPOPCNTDQ versions.
void FillAvx512PopcntKernels(DistanceKernels* k);

}  // namespace skeg::index::internal
