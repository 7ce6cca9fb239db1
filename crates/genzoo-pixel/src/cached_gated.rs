//! Fast cached sampling of Gated PixelCNN — Ramachandran et al. 2017, "Fast Generation for
//! Convolutional Autoregressive Models", arXiv:1704.06001, applied to the two stacks of
//! van den Oord et al. 2016b, arXiv:1606.05328 (see [`crate::gated`]).
//!
//! The two stacks are cached differently, following what each can see:
//! - the **vertical stack** at row `y` depends on whole rows `≤ y` of the image, so it is computed
//!   once per row, right after the row's last pixel is drawn. Its outputs are kept as full maps
//!   (the next layer's `(k/2 + 1) × k` convolution reads `k/2 + 1` rows of them), and its pre-gate
//!   features go straight through the 1×1 links, which the horizontal stack of row `y + 1` reads
//!   (that is the shift down by one row; row 0 gets the links of a zero map);
//! - the **horizontal stack** at pixel `(y, x)` depends on pixels `(y, ≤ x)` of its input, so each
//!   layer is evaluated once per pixel (once per colour channel on RGB, after each draw) from a
//!   buffer of the current row.
//!
//! Every layer is thus evaluated once per position and a batch costs about one forward pass
//! instead of `C · H · W`. Draws follow the protocol of [`crate::sampling`], so for the same seed the
//! images equal the naive sampler's (up to float rounding of logits: a draw could only differ when a
//! uniform falls within ~1e-6 of a threshold). Host arithmetic in `f32`, as in [`crate::cached`].

use burn::tensor::{Device, Tensor};

use crate::cached::{HostConv, HostHead, HostStack, Preprocessed};
use crate::error::Result;
use crate::gated::{Conditioned, GatedPixelCnn};
pub use crate::sampling::complete_cached as complete_cached_gated;
use crate::sampling::{Autoregressive, CachedSampler, SampleOptions, Start, host_f32, run};

/// A plain convolution as host weights; `bottom` anchors the output at the kernel's last row (the
/// vertical stack, padded only above), else at its centre.
fn host_conv(conv: &burn::nn::conv::Conv2d, bottom: bool) -> HostConv {
    let w = conv.weight.val();
    let [_, _, kh, kw] = w.dims();
    let anchor = if bottom {
        [kh - 1, kw / 2]
    } else {
        [kh / 2, kw / 2]
    };
    HostConv::from_parts(w, conv.bias.as_ref().map(|b| b.val()), anchor)
}

struct HostLayer {
    v_f: HostConv,
    v_g: HostConv,
    h_f: HostConv,
    h_g: HostConv,
    link_f: HostConv,
    link_g: HostConv,
    h_out: HostConv,
    residual: bool,
    p: usize,
}

/// The state of a cached sampling run of a Gated PixelCNN.
struct GatedCache {
    layers: Vec<HostLayer>,
    head: HostHead,
    n: usize,
    hw: [usize; 2],
    /// Vertical output of layer `l` (input of layer `l + 1`), `[H · W][n][p]`.
    v: Vec<Vec<f32>>,
    /// Horizontal output of layer `l` on the current row (input of layer `l + 1`), `[W][n][p]`.
    h: Vec<Vec<f32>>,
    /// Per layer, the link terms `link_f(down)`, `link_g(down)` for the current row, `[W][n][p]`.
    link: Vec<[Vec<f32>; 2]>,
    /// Per image, the class embedding `[n][4p]` (the four gates' biases), if conditional.
    cond: Option<Vec<f32>>,
}

fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + (-v).exp())
}

impl GatedCache {
    /// A run of `n` images, with their one-hot labels `[n, classes]` if the model is conditional.
    fn new(model: &GatedPixelCnn, one_hot: Option<Tensor<2>>, n: usize) -> Self {
        let [_, h, w] = model.image_shape();
        let layers: Vec<HostLayer> = model
            .layers
            .iter()
            .map(|l| HostLayer {
                v_f: host_conv(&l.v_f, true),
                v_g: host_conv(&l.v_g, true),
                h_f: HostConv::new(&l.h_f),
                h_g: HostConv::new(&l.h_g),
                link_f: host_conv(&l.link_f, false),
                link_g: host_conv(&l.link_g, false),
                h_out: HostConv::new(&l.h_out),
                residual: l.residual,
                p: l.hidden,
            })
            .collect();
        // The class embedding, as the network computes it (a bias-free linear map of the one-hot).
        let cond = one_hot.map(|one_hot| {
            model
                .layers
                .iter()
                .map(|l| {
                    let e: Option<Tensor<2>> =
                        l.cond.as_ref().map(|lin| lin.forward(one_hot.clone()));
                    e.map(host_f32)
                        .and_then(std::result::Result::ok)
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>()
        });
        let link = layers
            .iter()
            .map(|l| {
                // Row 0 sees the shifted-in zero row: the links' biases.
                let zero = vec![0.0; n * 2 * l.p];
                let mut f = vec![0.0; w * n * l.p];
                let mut g = vec![0.0; w * n * l.p];
                for x in 0..w {
                    let r = x * n * l.p..(x + 1) * n * l.p;
                    l.link_f.local(&zero, n, false, &mut f[r.clone()]);
                    l.link_g.local(&zero, n, false, &mut g[r]);
                }
                [f, g]
            })
            .collect();
        Self {
            v: layers.iter().map(|l| vec![0.0; h * w * n * l.p]).collect(),
            h: layers.iter().map(|l| vec![0.0; w * n * l.p]).collect(),
            layers,
            head: HostHead::new([&model.head, &model.out]),
            n,
            hw: [h, w],
            link,
            // Flatten per-layer embeddings into one `[layer][n][4p]` buffer.
            cond: cond.map(|per_layer| per_layer.concat()),
        }
    }

    /// The class-embedding term of gate `part` (0: v_f, 1: v_g, 2: h_f, 3: h_g) of layer `l`, image `b`.
    fn cond_part(&self, l: usize, b: usize, part: usize) -> Option<&[f32]> {
        let cond = self.cond.as_ref()?;
        let offset: usize = self.layers[..l].iter().map(|x| self.n * 4 * x.p).sum();
        let p = self.layers[l].p;
        let start = offset + b * 4 * p + part * p;
        Some(&cond[start..start + p])
    }

    /// Gates `tanh(f + c_f) ⊙ σ(g + c_g)` in place into `f`, per image.
    fn gate(&self, l: usize, f: &mut [f32], g: &[f32], parts: [usize; 2]) {
        let p = self.layers[l].p;
        for b in 0..self.n {
            let (cf, cg) = (
                self.cond_part(l, b, parts[0]),
                self.cond_part(l, b, parts[1]),
            );
            for j in 0..p {
                let i = b * p + j;
                let (mut fv, mut gv) = (f[i], g[i]);
                if let (Some(cf), Some(cg)) = (cf, cg) {
                    fv += cf[j];
                    gv += cg[j];
                }
                f[i] = fv.tanh() * sigmoid(gv);
            }
        }
    }
}

impl HostStack for GatedCache {
    /// The horizontal stack and the head at pixel `pos`.
    fn step(&mut self, image: &[f32], pos: usize) -> Vec<f32> {
        let (n, [_, w]) = (self.n, self.hw);
        let (y, x) = (pos / w, pos % w);
        for l in 0..self.layers.len() {
            let layer = &self.layers[l];
            let p = layer.p;
            let (mut f, mut g) = (vec![0.0; n * p], vec![0.0; n * p]);
            if l == 0 {
                layer.h_f.at(image, self.hw, y, x, n, false, &mut f);
                layer.h_g.at(image, self.hw, y, x, n, false, &mut g);
            } else {
                let input = &self.h[l - 1];
                layer.h_f.at(input, [1, w], 0, x, n, false, &mut f);
                layer.h_g.at(input, [1, w], 0, x, n, false, &mut g);
            }
            let r = x * n * p..(x + 1) * n * p;
            for (v, lv) in f.iter_mut().zip(&self.link[l][0][r.clone()]) {
                *v += lv;
            }
            for (v, lv) in g.iter_mut().zip(&self.link[l][1][r.clone()]) {
                *v += lv;
            }
            self.gate(l, &mut f, &g, [2, 3]);
            let layer = &self.layers[l];
            let mut out = vec![0.0; n * p];
            layer.h_out.local(&f, n, false, &mut out);
            if layer.residual {
                let input = &self.h[l - 1][x * n * p..(x + 1) * n * p];
                for (o, i) in out.iter_mut().zip(input) {
                    *o += i;
                }
            }
            self.h[l][r].copy_from_slice(&out);
        }
        let last = self.layers.len() - 1;
        let p = self.layers[last].p;
        self.head
            .logits(&self.h[last][x * n * p..(x + 1) * n * p], n)
    }

    /// The vertical stack on the complete row `y`: its outputs, and the links row `y + 1` reads.
    fn finish_row(&mut self, image: &[f32], y: usize) {
        let (n, [_, w]) = (self.n, self.hw);
        for l in 0..self.layers.len() {
            let p = self.layers[l].p;
            let mut next_f = vec![0.0; w * n * p];
            let mut next_g = vec![0.0; w * n * p];
            for x in 0..w {
                let (mut f, mut g) = (vec![0.0; n * p], vec![0.0; n * p]);
                let layer = &self.layers[l];
                let input: &[f32] = if l == 0 { image } else { &self.v[l - 1] };
                layer.v_f.at(input, self.hw, y, x, n, false, &mut f);
                layer.v_g.at(input, self.hw, y, x, n, false, &mut g);
                // The links read the pre-gate features [v_f, v_g], without the class term.
                let mut down = vec![0.0; n * 2 * p];
                for b in 0..n {
                    down[b * 2 * p..b * 2 * p + p].copy_from_slice(&f[b * p..(b + 1) * p]);
                    down[b * 2 * p + p..(b + 1) * 2 * p].copy_from_slice(&g[b * p..(b + 1) * p]);
                }
                let r = x * n * p..(x + 1) * n * p;
                layer.link_f.local(&down, n, false, &mut next_f[r.clone()]);
                layer.link_g.local(&down, n, false, &mut next_g[r]);
                self.gate(l, &mut f, &g, [0, 1]);
                let at = (y * w + x) * n * p;
                self.v[l][at..at + n * p].copy_from_slice(&f);
            }
            self.link[l] = [next_f, next_g];
        }
    }
}

/// Each layer evaluated once per position (per channel on RGB), the vertical stack once per row.
impl CachedSampler for Conditioned<'_> {
    fn sample(&self, start: Start, opts: &SampleOptions, device: &Device) -> Result<Tensor<4>> {
        let [labels] = self.labels.dims();
        run(self, start, Some(labels), opts, device, |n| {
            let one_hot = self.model.condition(Some(self.labels.clone()), n, device);
            let cache = GatedCache::new(self.model, one_hot, n);
            Preprocessed::new(cache, n, self.image_shape())
        })
    }
}

/// One fresh sample per label of `cond` (see [`GatedPixelCnn::conditioned`]), in [0, 1], each
/// layer evaluated once per position. Gives the images [`crate::sampling::sample_naive`] gives for
/// `cond` and the same options.
///
/// # Shapes
/// → `[labels, C, H, W]`
pub fn sample_cached_gated(
    cond: &Conditioned<'_>,
    opts: &SampleOptions,
    device: &Device,
) -> Result<Tensor<4>> {
    let [labels] = cond.labels.dims();
    cond.sample(Start::Fresh(labels), opts, device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GatedPixelCnnConfig;
    use crate::error::Error;
    use crate::sampling::{complete_naive, sample_naive};
    use crate::test_util::values;
    use burn::tensor::Distribution;

    fn config(channels: usize, levels: usize, classes: usize) -> GatedPixelCnnConfig {
        GatedPixelCnnConfig::new()
            .with_channels(channels)
            .with_image_size(6)
            .with_hidden(9)
            .with_layers(3)
            .with_first_kernel(5)
            .with_kernel(3)
            .with_head_hidden(12)
            .with_levels(levels)
            .with_classes(classes)
    }

    #[test]
    fn cached_gated_samples_equal_naive_samples() {
        let device = Device::flex();
        // Binary unconditional, RGB with 4 levels and class conditioning, 5 levels at T = 0.7.
        for (channels, levels, classes, t) in [(1, 2, 0, 1.0), (3, 4, 3, 1.0), (1, 5, 4, 0.7)] {
            let model = config(channels, levels, classes).init(&device);
            let labels = [0, 2, 1, 2, 0];
            let cond = model
                .conditioned(&labels.map(|l| l % classes.max(1)), &device)
                .expect("labels");
            let opts = SampleOptions::new(42).with_temperature(t);
            let naive = values(sample_naive(&cond, 5, &opts, &device).expect("naive"));
            let cached = values(sample_cached_gated(&cond, &opts, &device).expect("cached"));
            assert_eq!(
                naive, cached,
                "{channels} channels, {levels} levels, {classes} classes, T = {t}"
            );
            let other = values(
                sample_cached_gated(&cond, &SampleOptions::new(43), &device).expect("cached"),
            );
            assert_ne!(cached, other, "another seed gives other images");
        }
    }

    #[test]
    fn the_class_changes_the_cached_samples_as_it_changes_the_naive_ones() {
        let device = Device::flex();
        let mut model = config(3, 4, 3).init(&device);
        // A strong class signal, so the claim does not hinge on how the random init (from the
        // device RNG, shared with tests running in parallel) happened to weigh the label: one-hot
        // class weights of ±3 (a fixed pseudo-random sign per entry) on every gate move the logits far more than one level's width.
        for layer in &mut model.layers {
            if let Some(cond) = &mut layer.cond {
                let [classes, out] = cond.weight.dims();
                let w: Vec<f32> = (0..classes * out)
                    .map(|i| {
                        if (i as u64).wrapping_mul(2_654_435_761) >> 7 & 1 == 0 {
                            3.0
                        } else {
                            -3.0
                        }
                    })
                    .collect();
                cond.weight = burn::module::Param::from_tensor(Tensor::from_data(
                    burn::tensor::TensorData::new(w, [classes, out]),
                    &device,
                ));
            }
        }
        let opts = SampleOptions::new(5);
        let draw_both = |label: usize| {
            let cond = model.conditioned(&[label; 6], &device).expect("labels");
            let cached = values(sample_cached_gated(&cond, &opts, &device).expect("cached"));
            let naive = values(sample_naive(&cond, 6, &opts, &device).expect("naive"));
            assert_eq!(cached, naive, "class {label}");
            cached
        };
        // Same seed, other class: other images (so the label reaches the cached stacks).
        assert_ne!(draw_both(0), draw_both(2));
    }

    #[test]
    fn cached_gated_completion_equals_naive_and_keeps_the_known_pixels() {
        let device = Device::flex();
        let model = config(3, 4, 2).init(&device);
        let x = Tensor::<4>::random([3, 3, 6, 6], Distribution::Uniform(0.0, 1.0), &device);
        let x = (x * 3.0).round() / 3.0;
        let cond = model.conditioned(&[1, 0, 1], &device).expect("labels");
        let opts = SampleOptions::new(9);
        let known = 15; // two and a half rows
        let naive = values(complete_naive(&cond, x.clone(), known, &opts, &device).expect("naive"));
        let cached =
            values(complete_cached_gated(&cond, x.clone(), known, &opts, &device).expect("cached"));
        assert_eq!(naive, cached);
        let xv = values(x.clone());
        for plane in 0..9 {
            let r = plane * 36..plane * 36 + known;
            assert_eq!(&cached[r.clone()], &xv[r]);
        }
        let two = model.conditioned(&[1, 0], &device).expect("labels");
        assert!(matches!(
            complete_cached_gated(&two, x, known, &opts, &device),
            Err(Error::LabelCount {
                labels: 2,
                images: 3
            })
        ));
    }
}
