/**
 * TensorFlow convolution/pooling geometry, computed exactly so that explicit ONNX pads reproduce TF results.
 */

/** Extent of a dilated kernel: (k - 1) * d + 1. */
export function effectiveKernel(kernel: number, dilation = 1): number {
  return (kernel - 1) * dilation + 1;
}

/**
 * TF 'SAME' padding along one spatial axis: the output has ceil(in / stride) elements and, when the total padding
 * is odd, the extra element goes at the end. Returns [padBegin, padEnd].
 */
export function samePadding(inSize: number, kernel: number, stride: number, dilation = 1): [number, number] {
  if (![inSize, kernel, stride, dilation].every((v) => Number.isInteger(v) && v > 0))
    throw new RangeError(`samePadding needs positive integers, got in=${inSize} k=${kernel} s=${stride} d=${dilation}`);
  const outSize = Math.ceil(inSize / stride);
  const total = Math.max((outSize - 1) * stride + effectiveKernel(kernel, dilation) - inSize, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}

/** Output length of a convolution/pool along one axis with explicit pads (floor mode, like TF and ONNX). */
export function convOutputSize(inSize: number, kernel: number, stride: number, dilation: number, padBegin: number, padEnd: number): number {
  const out = Math.floor((inSize + padBegin + padEnd - effectiveKernel(kernel, dilation)) / stride) + 1;
  if (out < 1) throw new RangeError(`kernel ${kernel} (dilation ${dilation}) does not fit input ${inSize} with pads ${padBegin}+${padEnd}`);
  return out;
}
