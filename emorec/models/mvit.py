"""MViTv2 (Li et al. 2022, "MViTv2: Improved Multiscale Vision Transformers") in Keras.

Conv patch embedding, then stages of multiscale blocks: pooling attention (depthwise 3D
conv pooling of q, k and v, each followed by LayerNorm), residual pooling (q added back to
the attention output), query pooling at stage transitions, key/value pooling strides that
adapt so that keys and values keep the same spatial size in every stage, decomposed
relative position embeddings over time, height and width, and the channel projection after
attention. `mvitv2` is the paper's S model (16x224x224: 34.5 M parameters with 400 classes,
the torchvision reference's count); `mvitv2_tiny` keeps the design at a size a CPU trains.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from emorec.models import inputs, torchvision_weights
from emorec.models.layers import ClassToken, DropPath, FacePreprocess, FrameConv3D, register, temporal_taps, valid_sizes
from emorec.models.network import Encoder


def _rel_index(q: int, k: int) -> np.ndarray:
    """Index into a relative-position table for q query and k key positions along one axis
    of different resolutions, distances measured on the finer grid."""
    q_ratio, k_ratio = max(k / q, 1.0), max(q / k, 1.0)
    dist = np.arange(q)[:, None] * q_ratio - (np.arange(k)[None, :] + (1.0 - k)) * k_ratio
    return dist.astype(np.int32)


@register
class DepthwiseConv3D(layers.Layer):
    """A depthwise 3D convolution without bias, on already padded [N, T, H, W, C] input.

    Written as a sum over temporal offsets of 2D depthwise convolutions: TensorFlow's
    grouped Conv3D runs through XLA on CPUs and was 15 times slower to train here.
    """

    def __init__(self, kernel=(3, 3, 3), strides=(1, 1, 1), **kwargs):
        super().__init__(**kwargs)
        self.kernel_size, self.strides = tuple(kernel), tuple(strides)

    def build(self, shape):
        self.kernel = self.add_weight(shape=(*self.kernel_size, shape[-1]), name="kernel")

    def call(self, x):
        kt, _, _ = self.kernel_size
        st, sh, sw = self.strides
        _, _, h, w, c = x.shape
        taps = temporal_taps(x, kt, st)
        out = 0
        for dt, frames in enumerate(taps):
            frames = ops.reshape(frames, (-1, h, w, c))
            out = out + ops.depthwise_conv(frames, self.kernel[dt][..., None], strides=(sh, sw), padding="valid")
        return ops.reshape(out, (-1, taps[0].shape[1], *out.shape[1:]))

    def compute_output_shape(self, shape):
        return (shape[0], *valid_sizes(shape[1:4], self.kernel_size, self.strides), shape[4])

    def get_config(self):
        return {**super().get_config(), "kernel": self.kernel_size, "strides": self.strides}


@register
class MultiscaleBlock(layers.Layer):
    """One MViTv2 block on [batch, 1 + T*H*W, dim_in] tokens (a class token first)."""

    def __init__(
        self,
        thw,
        dim_in,
        dim_out,
        num_heads,
        stride_q=(1, 1, 1),
        stride_kv=(1, 1, 1),
        kernel=(3, 3, 3),
        drop_path=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.thw, self.dim_in, self.dim_out = tuple(thw), dim_in, dim_out
        self.num_heads, self.kernel = num_heads, tuple(kernel)
        self.stride_q, self.stride_kv = tuple(stride_q), tuple(stride_kv)
        self.drop_path_rate = drop_path
        self.head_dim = dim_out // num_heads
        self.q_thw = self._pooled(self.thw, self.stride_q)
        self.kv_thw = self._pooled(self.thw, self.stride_kv)

        eps = 1e-6
        self.norm1 = layers.LayerNormalization(epsilon=eps, name="norm1")
        self.qkv = layers.Dense(3 * dim_out, name="qkv")
        self.pools = {}
        for which, stride in (("q", self.stride_q), ("k", self.stride_kv), ("v", self.stride_kv)):
            self.pools[which] = (
                DepthwiseConv3D(self.kernel, stride, name=f"pool_{which}"),
                layers.LayerNormalization(epsilon=eps, name=f"norm_{which}"),
            )
        self.attn_proj = layers.Dense(dim_out, name="attn_proj")
        self.project = layers.Dense(dim_out, name="project") if dim_in != dim_out else None
        # Max pooling of the skip path, padded by k // 2 on both sides as the reference pads it
        # (Keras's "same" pads only after: every window one position off).
        self.skip_kernel = [s + 1 if s > 1 else 1 for s in self.stride_q]
        self.skip_pool = (
            layers.MaxPooling3D(self.skip_kernel, self.stride_q, padding="valid", name="pool_skip")
            if math.prod(self.stride_q) > 1
            else None
        )
        self.norm2 = layers.LayerNormalization(epsilon=eps, name="norm2")
        self.mlp1 = layers.Dense(4 * dim_out, activation="gelu", name="mlp1")
        self.mlp2 = layers.Dense(dim_out, name="mlp2")
        self.drop_path = DropPath(drop_path)

    def _pooled(self, thw, stride):
        pad = [k // 2 for k in self.kernel]
        return tuple((n + 2 * p - k) // s + 1 for n, p, k, s in zip(thw, pad, self.kernel, stride))

    def build(self, shape):
        qt, qh, qw = self.q_thw
        kt, kh, kw = self.kv_thw
        init = keras.initializers.TruncatedNormal(stddev=0.02)
        self.rel_pos_t = self.add_weight(shape=(2 * max(qt, kt) - 1, self.head_dim), initializer=init, name="rel_pos_t")
        self.rel_pos_h = self.add_weight(shape=(2 * max(qh, kh) - 1, self.head_dim), initializer=init, name="rel_pos_h")
        self.rel_pos_w = self.add_weight(shape=(2 * max(qw, kw) - 1, self.head_dim), initializer=init, name="rel_pos_w")
        self._index = [ops.convert_to_tensor(_rel_index(q, k)) for q, k in zip(self.q_thw, self.kv_thw)]
        for conv, norm in self.pools.values():
            conv.build((None, *[n + 2 * (k // 2) for n, k in zip(self.thw, self.kernel)], self.head_dim))
            norm.build((None, None, self.head_dim))
        self.norm1.build(shape)
        self.qkv.build((None, None, self.dim_in))
        self.attn_proj.build((None, None, self.dim_out))
        if self.project is not None:
            self.project.build((None, None, self.dim_in))
        self.norm2.build((None, None, self.dim_out))
        self.mlp1.build((None, None, self.dim_out))
        self.mlp2.build((None, None, 4 * self.dim_out))

    def _pool(self, x, which, thw, out_thw):
        """[B, heads, 1 + THW, C] -> [B, heads, 1 + T'H'W', C]: pools all but the class token."""
        conv, norm = self.pools[which]
        cls, rest = x[:, :, :1], x[:, :, 1:]
        rest = ops.reshape(rest, (-1, *thw, self.head_dim))
        rest = ops.pad(rest, [[0, 0]] + [[k // 2, k // 2] for k in self.kernel] + [[0, 0]])
        rest = conv(rest)
        rest = ops.reshape(rest, (-1, self.num_heads, math.prod(out_thw), self.head_dim))
        return norm(ops.concatenate([cls, rest], axis=2))

    def _rel_pos(self, q):
        """Decomposed relative positions [B, heads, Nq - 1, Nk - 1] from q's own content."""
        qt, qh, qw = self.q_thw
        kt, kh, kw = self.kv_thw
        r_t = ops.take(self.rel_pos_t, self._index[0], axis=0)  # [qt, kt, C]
        r_h = ops.take(self.rel_pos_h, self._index[1], axis=0)
        r_w = ops.take(self.rel_pos_w, self._index[2], axis=0)
        r_q = ops.reshape(q[:, :, 1:], (-1, self.num_heads, qt, qh, qw, self.head_dim))
        rel_t = ops.einsum("bnthwc,tkc->bnthwk", r_q, r_t)
        rel_h = ops.einsum("bnthwc,hkc->bnthwk", r_q, r_h)
        rel_w = ops.einsum("bnthwc,wkc->bnthwk", r_q, r_w)
        rel = rel_t[..., :, None, None] + rel_h[..., None, :, None] + rel_w[..., None, None, :]
        return ops.reshape(rel, (-1, self.num_heads, qt * qh * qw, kt * kh * kw))

    def call(self, x, training=None):
        tokens = 1 + math.prod(self.thw)
        x_norm = self.norm1(x)
        qkv = ops.reshape(self.qkv(x_norm), (-1, tokens, 3, self.num_heads, self.head_dim))
        qkv = ops.transpose(qkv, (2, 0, 3, 1, 4))  # [3, B, heads, N, C]
        q = self._pool(qkv[0], "q", self.thw, self.q_thw)
        k = self._pool(qkv[1], "k", self.thw, self.kv_thw)
        v = self._pool(qkv[2], "v", self.thw, self.kv_thw)

        attn = ops.matmul(q * (self.head_dim**-0.5), ops.transpose(k, (0, 1, 3, 2)))
        attn = attn + ops.pad(self._rel_pos(q), [[0, 0], [0, 0], [1, 0], [1, 0]])
        out = ops.matmul(ops.softmax(attn, axis=-1), v)
        # Residual pooling: the pooled query joins the output, the class token excepted.
        out = out + ops.pad(q[:, :, 1:], [[0, 0], [0, 0], [1, 0], [0, 0]])
        out = ops.reshape(ops.transpose(out, (0, 2, 1, 3)), (-1, 1 + math.prod(self.q_thw), self.dim_out))
        out = self.attn_proj(out)

        skip = x if self.project is None else self.project(x_norm)
        if self.skip_pool is not None:
            cls, rest = skip[:, :1], skip[:, 1:]
            rest = ops.pad(
                ops.reshape(rest, (-1, *self.thw, self.dim_out)),
                [[0, 0]] + [[k // 2, k // 2] for k in self.skip_kernel] + [[0, 0]],
                constant_values=float("-inf"),
            )
            rest = self.skip_pool(rest)
            skip = ops.concatenate([cls, ops.reshape(rest, (-1, math.prod(self.q_thw), self.dim_out))], axis=1)
        x = skip + self.drop_path(out, training=training)
        return x + self.drop_path(self.mlp2(self.mlp1(self.norm2(x))), training=training)

    def compute_output_shape(self, shape):
        return (shape[0], 1 + math.prod(self.q_thw), self.dim_out)

    def get_config(self):
        return {
            **super().get_config(),
            "thw": self.thw,
            "dim_in": self.dim_in,
            "dim_out": self.dim_out,
            "num_heads": self.num_heads,
            "stride_q": self.stride_q,
            "stride_kv": self.stride_kv,
            "kernel": self.kernel,
            "drop_path": self.drop_path_rate,
        }


def block_settings(depths, dim, heads, kv_stride):
    """Per-block (dim_in, dim_out, heads, stride_q, stride_kv) for stages of `depths` blocks.

    Channels and heads double at each stage's first block, which also pools the queries by
    2 in space; the key/value stride halves each stage so keys keep one spatial size.
    """
    settings, dim_in = [], dim
    for stage, depth in enumerate(depths):
        dim_out, n_heads = dim * 2**stage, heads * 2**stage
        stride_kv = (1, max(kv_stride // 2**stage, 1), max(kv_stride // 2**stage, 1))
        for i in range(depth):
            stride_q = (1, 2, 2) if stage > 0 and i == 0 else (1, 1, 1)
            settings.append((dim_in, dim_out, n_heads, stride_q, stride_kv))
            dim_in = dim_out
    return settings


def mvit_graph(frames, image_size, depths, dim, heads, kv_stride, drop_path):
    """faces uint8 [batch, frames, S, S, 3] -> class-token embedding [batch, 8 * dim]: (input, output)."""
    faces = inputs.faces(frames, image_size)
    x = FacePreprocess("kinetics_mvit")(faces)
    x = layers.ZeroPadding3D((1, 3, 3))(x)
    x = FrameConv3D(dim, (3, 7, 7), (2, 4, 4), name="patch_embed")(x)
    thw = tuple(x.shape[1:4])
    if kv_stride is None:
        # Keys and values pooled to about 7x7 as in the paper's 224 setting.
        kv_stride = max(1, 2 ** round(math.log2(max(thw[1] / 7, 1))))
    x = ClassToken(name="class_token")(layers.Reshape((math.prod(thw), dim))(x))
    settings = block_settings(depths, dim, heads, kv_stride)
    for i, (dim_in, dim_out, n_heads, stride_q, stride_kv) in enumerate(settings):
        block = MultiscaleBlock(
            thw,
            dim_in,
            dim_out,
            n_heads,
            stride_q,
            stride_kv,
            drop_path=drop_path * i / max(len(settings) - 1, 1),
            name=f"block{i}",
        )
        x = block(x)
        thw = block.q_thw
    x = layers.LayerNormalization(epsilon=1e-6, name="norm")(x)
    return faces, x[:, 0]


@register
class MViTv2(Encoder):
    """MViTv2-S: 16 blocks in stages of 1, 2, 11, 2; widths 96 to 768; heads 1 to 8. `weights`:
    None, 'kinetics400' (torchvision's MViT_V2_S), a .pth file or a Keras weights file."""

    modality = "faces"
    DEPTHS, DIM = (1, 2, 11, 2), 96

    def __init__(self, frames=16, image_size=224, drop_path=0.2, weights=None, name="mvitv2_encoder", **kwargs):
        faces, x = mvit_graph(frames, image_size, self.DEPTHS, self.DIM, 1, None, drop_path)
        super().__init__(faces, x, name=name, **kwargs)
        torchvision_weights.encoder_weights(self, "mvitv2", weights)


@register
class MViTv2Tiny(MViTv2):
    """A 5-block MViTv2 (widths 48 to 384) that trains on a CPU at 16x112x112."""

    DEPTHS, DIM = (1, 1, 2, 1), 48

    def __init__(self, frames=16, image_size=112, drop_path=0.1, weights=None, name="mvitv2_tiny_encoder", **kwargs):
        super().__init__(frames, image_size, drop_path, weights, name=name, **kwargs)
