#pragma once
// Concatenation along channels: input i fills channels [offset_i, offset_i + C_i) of y.
#include "kernels/reference/strided.h"

namespace mt::reference {

// Copies part[:, c] to whole[:, offset + c] (into_whole) or back.
template <typename T>
void copy_channel_block(const Tensor& part, const Tensor& whole, int64_t offset, bool into_whole) {
  const View4<T> P = view4<T>(part), Wh = view4<T>(whole);
  for (int64_t n = 0; n < part.dim(0); ++n)
    for (int64_t c = 0; c < part.dim(1); ++c)
      for (int64_t h = 0; h < part.dim(2); ++h)
        for (int64_t w = 0; w < part.dim(3); ++w) {
          if (into_whole)
            Wh(n, offset + c, h, w) = P(n, c, h, w);
          else
            P(n, c, h, w) = Wh(n, offset + c, h, w);
        }
}

// Checks that parts of these shapes tile `whole` along C.
inline void expect_concat_shapes(std::string_view op, const std::vector<Shape>& parts,
                                 const Tensor& whole) {
  expect_rank(op, "y", whole, 4);
  int64_t channels = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Shape& s = parts[i];
    MT_CHECK(s.rank() == 4 && s[0] == whole.dim(0) && s[2] == whole.dim(2) && s[3] == whole.dim(3),
             ShapeError, "[", op, "] part ", i, " ", s.str(), " does not match ",
             whole.shape().str(), " outside the channel axis");
    channels += s[1];
  }
  MT_CHECK(channels == whole.dim(1), ShapeError, "[", op, "] parts have ", channels,
           " channels in all, y has ", whole.dim(1));
}

template <typename T>
void concat_fwd(const std::vector<const Tensor*>& xs, Tensor& y) {
  std::vector<Shape> shapes;
  for (const Tensor* x : xs) {
    MT_CHECK(x && x->defined(), BackendError, "[concat_fwd] every input must be defined");
    expect_dtype<T>("concat_fwd", {x});
    shapes.push_back(x->shape());
  }
  expect_dtype<T>("concat_fwd", {&y});
  expect_concat_shapes("concat_fwd", shapes, y);
  int64_t offset = 0;
  for (const Tensor* x : xs) {
    copy_channel_block<T>(*x, y, offset, true);
    offset += x->dim(1);
  }
}

// A null (or undefined) entry needs no gradient, but its channels still take their place in dy.
// The interface passes no shape for it, so its width is what the sized entries leave over; that
// fixes every offset only when no null precedes a sized entry or there is a single null.
template <typename T>
void concat_bwd(const Tensor& dy, const std::vector<int64_t>& channels,
                const std::vector<Tensor*>& dxs) {
  expect_dtype<T>("concat_bwd", {&dy});
  expect_rank("concat_bwd", "dy", dy, 4);
  MT_CHECK(channels.size() == dxs.size(), ShapeError, "[concat_bwd] ", channels.size(),
           " widths for ", dxs.size(), " inputs");
  int64_t offset = 0;
  for (size_t i = 0; i < dxs.size(); ++i) {
    Tensor* dx = dxs[i];
    if (dx && dx->defined()) {
      expect_dtype<T>("concat_bwd", {dx});
      MT_CHECK(dx->rank() == 4 && dx->dim(0) == dy.dim(0) && dx->dim(1) == channels[i] &&
                   dx->dim(2) == dy.dim(2) && dx->dim(3) == dy.dim(3) && offset + channels[i] <= dy.dim(1),
               ShapeError, "[concat_bwd] dx ", dx->shape().str(), " does not fit dy ",
               dy.shape().str(), " at channel ", offset);
      copy_channel_block<T>(*dx, dy, offset, false);
    }
    offset += channels[i];
  }
  MT_CHECK(offset == dy.dim(1), ShapeError, "[concat_bwd] the inputs have ", offset,
           " channels in all, dy ", dy.shape().str());
}

}  // namespace mt::reference
