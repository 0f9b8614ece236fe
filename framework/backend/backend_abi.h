/* framework/backend/backend_abi.h: the backend boundary, a small versioned C ABI.
 *
 * A backend is a table of function pointers. Kernels are called by id with one argument struct; `supports`
 * says whether a backend has a kernel for a dtype, and the framework falls back to the CPU backend when it
 * does not. The CPU backend (framework/backend/cpu_backend.cpp) is the reference; a plugin (for example a CUDA
 * backend) is a shared library exporting `fw_backend_register_v1`, loaded with dlopen by
 * framework/backend/backend.h. This header is plain C so a plugin built by another compiler can include it.
 *
 * Versioning: a change that alters the layout of fw_kernel_args or fw_backend_v1, or renumbers kernel ids,
 * bumps FW_BACKEND_ABI_VERSION. New kernel ids are appended before FW_K_COUNT without a bump. */
#ifndef FW_BACKEND_ABI_H
#define FW_BACKEND_ABI_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FW_BACKEND_ABI_VERSION 1u

typedef enum fw_dtype { FW_F32 = 0, FW_F64 = 1 } fw_dtype;
typedef enum fw_device { FW_CPU = 0, FW_CUDA = 1 } fw_device;

/* Kernel ids. Each names the argument convention in its comment: b = buffers, i = int64 params, s = doubles. */
typedef enum fw_kernel_id {
  FW_K_FILL = 0,        /* b0=y; i0=n; s0=value */
  FW_K_COPY_STRIDED,    /* b0=y (contiguous), b1=x (element 0 of a strided view); i0=ndim (<=8), i1..8=shape,
                           i9..16=x strides (elements) */
  FW_K_UNARY,           /* b0=y, b1=x; i0=n; i1=fw_unary_op; s0=scalar */
  FW_K_UNARY_BACKWARD,  /* b0=dx, b1=dy, b2=x, b3=y; i0=n; i1=fw_unary_op; s0=scalar. dx = dy * f'(x) */
  FW_K_BINARY,          /* b0=y, b1=a, b2=b (contiguous); i0=ndim (<=8), i1..8=out shape, i9..16=a strides,
                           i17..24=b strides (0 on broadcast dims); i25=fw_binary_op */
  FW_K_GEMM,            /* b0=C, b1=A, b2=B; i0=transA, i1=transB, i2=M, i3=N, i4=K; s0=alpha, s1=beta.
                           Row-major: C (M,N) = alpha op(A) op(B) + beta C; A is (M,K), or (K,M) if transA;
                           B is (K,N), or (N,K) if transB. beta=0 ignores C's old contents. */
  FW_K_CONV2D_FORWARD,  /* b0=y (N,Co,Ho,Wo) (written), b1=x (N,Ci,H,W), b2=w (Co,Ci,KH,KW), b3=bias (Co) or
                           NULL, b4=mask (Co,Ci,KH,KW) or NULL (the effective weight is w*mask);
                           i0=N, i1=Ci, i2=H, i3=W, i4=Co, i5=KH, i6=KW, i7=pad_top, i8=pad_bottom,
                           i9=pad_left, i10=pad_right. Stride 1: Ho = H+top+bottom-KH+1, Wo = W+left+right-KW+1.
                           All three conv kernels are deterministic at any thread count. */
  FW_K_CONV2D_BACKWARD_DATA,   /* b0=dx (+=), b1=dy, b2=w, b4=mask or NULL; i as FW_K_CONV2D_FORWARD */
  FW_K_CONV2D_BACKWARD_WEIGHT, /* b0=dw (+=, masked: dw += mask * dW) or NULL (bias only), b1=dy, b2=x,
                                  b3=dbias (+=) or NULL, b4=mask or NULL; i as FW_K_CONV2D_FORWARD */
  FW_K_SUM_DIM,         /* b0=y (outer, inner), b1=x (outer, red, inner); i0=outer, i1=red, i2=inner. y = sum over
                           red, in a fixed order (deterministic at any thread count). */
  FW_K_COPY_BLOCK,      /* b0=y, b1=x (bases); i0=ndim (<=8), i1..8=shape, i9..16=y strides, i17..24=x strides
                           (elements; may be negative, x's may be 0), i25=y offset, i26=x offset (elements from
                           the base to index 0). y[i25 + sum idx*ys] = x[i26 + sum idx*xs] for every idx in shape;
                           other y elements untouched. Distinct idx must address distinct y elements. */
  FW_K_SOFTMAX,         /* over K in (outer, K, inner) layouts; i0=outer, i1=K, i2=inner, i3=mode:
                           0 log_softmax: b0=y (outer,K,inner), b1=x (outer,K,inner)
                           1 log_softmax backward: b0=dx, b1=dy, b2=y; dx = dy - exp(y) sum_k dy
                           2 cross-entropy: b0=loss (outer,inner), b1=x, b2=target (outer,inner; valid indices)
                           3 cross-entropy backward: b0=dx, b1=dloss (outer,inner), b2=x, b3=target;
                             dx = dloss (softmax(x) - onehot(target)) */
  FW_K_BCE_LOGITS,      /* i0=n, i1=mode: 0 forward: b0=loss, b1=x, b2=t; l = max(x,0) - x t + log1p(exp(-|x|))
                           1 backward: b0=dx, b1=dloss, b2=x, b3=t; dx = dloss (sigmoid(x) - t) */
  FW_K_COUNT
} fw_kernel_id;

typedef enum fw_unary_op {
  FW_U_NEG = 0, FW_U_EXP, FW_U_LOG, FW_U_SIGMOID, FW_U_TANH, FW_U_RELU, FW_U_ADD_SCALAR, FW_U_MUL_SCALAR,
  FW_U_SQUARE, FW_U_SQRT, FW_U_COUNT
} fw_unary_op;

typedef enum fw_binary_op { FW_B_ADD = 0, FW_B_SUB, FW_B_MUL, FW_B_DIV, FW_B_COUNT } fw_binary_op;

#define FW_KERNEL_MAX_BUFFERS 8
#define FW_KERNEL_MAX_INTS 32
#define FW_KERNEL_MAX_SCALARS 4

typedef struct fw_kernel_args {
  int32_t dtype; /* fw_dtype */
  void* b[FW_KERNEL_MAX_BUFFERS];
  size_t bytes[FW_KERNEL_MAX_BUFFERS]; /* size of each buffer: lets the framework copy them for a CPU fallback */
  int64_t i[FW_KERNEL_MAX_INTS];
  double s[FW_KERNEL_MAX_SCALARS];
} fw_kernel_args;

/* Return codes of run(). */
#define FW_OK 0
#define FW_ERR_UNSUPPORTED 1
#define FW_ERR_INVALID 2

typedef struct fw_backend_v1 {
  uint32_t abi_version; /* must equal FW_BACKEND_ABI_VERSION */
  const char* name;     /* "cpu", "cuda", ... */
  int32_t device;       /* fw_device */
  int (*supports)(int32_t kernel_id, int32_t dtype);
  int (*run)(int32_t kernel_id, const fw_kernel_args* args);
  void* (*alloc)(size_t bytes);
  void (*free)(void* ptr);
  int (*copy_to_host)(void* host_dst, const void* dev_src, size_t bytes);
  int (*copy_from_host)(void* dev_dst, const void* host_src, size_t bytes);
  int (*synchronize)(void);
} fw_backend_v1;

/* A plugin exports this symbol; it returns its table (owned by the plugin) or NULL. */
typedef const fw_backend_v1* (*fw_backend_register_v1_fn)(void);

#ifdef __cplusplus
}
#endif
#endif
