// common.cuh — prepended to every kernel module (see src/device/cuda/kernels.rs).
//
// Conventions shared by every file in kernels/:
//
// * Entry points are `extern "C" __global__ void <op>_<pass>_f32(const Args a, buffers...)`:
//   the op's parameter struct comes first, *by value* (it is the `#[repr(C)]` struct of the
//   Rust launcher, byte for byte; `tests/cuda_kernels_compile.rs` checks the sizes with
//   `static_assert`), then the device buffers in the order the launcher passes them.
// * Buffers are untyped 4-byte words on the Rust side; a kernel reads them as `float` or as
//   `unsigned` (indices) as it needs.
// * A 1-D kernel runs one thread per output element in blocks of BLOCK threads:
//
//       i = blockIdx.x · BLOCK + threadIdx.x,     threads with i ≥ n return at once.
//
//   CUDA grids reach 2³¹ − 1 blocks along x, so no folding into 2-D is needed (WGSL needs it).
// * Backward kernels gather: one thread per gradient element sums its contributions in a fixed
//   order. No float atomics anywhere, so every result is the same run to run.
// * NVRTC compiles these sources without any CUDA header, so nothing here #includes.

#define BLOCK 256u

__device__ __forceinline__ unsigned flat_index() {
    return blockIdx.x * blockDim.x + threadIdx.x;
}

// A quiet NaN.
__device__ __forceinline__ float nan_f32() {
    return __int_as_float(0x7fc00000);
}
