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

// The counter-based hash of every random draw (src/rng.rs: pcg4d, Jarzynski & Olano 2020), bit
// for bit as the CPU computes it: 32-bit unsigned arithmetic, wrapping. Used by the data-side
// kernels (colorize, color_jitter) to draw per sample what the CPU draws.
struct Words { unsigned w[4]; };

__device__ __forceinline__ void mix4(unsigned v[4]) {
    v[0] = v[0] + v[1] * v[3];
    v[1] = v[1] + v[2] * v[0];
    v[2] = v[2] + v[0] * v[1];
    v[3] = v[3] + v[1] * v[2];
}

__device__ __forceinline__ Words pcg4d(unsigned a, unsigned b, unsigned c, unsigned d) {
    Words r;
    unsigned* v = r.w;
    v[0] = a * 1664525u + 1013904223u;
    v[1] = b * 1664525u + 1013904223u;
    v[2] = c * 1664525u + 1013904223u;
    v[3] = d * 1664525u + 1013904223u;
    mix4(v);
    v[0] ^= v[0] >> 16;
    v[1] ^= v[1] >> 16;
    v[2] ^= v[2] >> 16;
    v[3] ^= v[3] >> 16;
    mix4(v);
    return r;
}
