//! What the pixel models share besides sampling: their configurations' common fields and checks,
//! their masked convolutions, and the likelihood of an unconditional model.

use burn::tensor::Device;
use genzoo_layers::{MaskType, MaskedConv2d, MaskedConv2dConfig};

/// The fields every pixel model's configuration has.
#[derive(Clone, Copy)]
pub(crate) struct Shared {
    pub channels: usize,
    pub image_size: usize,
    pub first_kernel: usize,
    pub hidden: usize,
    pub head_hidden: usize,
    pub levels: usize,
}

impl Shared {
    /// Why a configuration with these fields cannot be built, if it cannot: 1 or 3 channels,
    /// positive sizes (the image's and `positive`: the name and value of each), odd kernel sides
    /// (the first and `kernel`), at least 2 levels, and hidden widths that leave every colour group
    /// some channels (`per_group` of `hidden`, one of `head_hidden`).
    pub(crate) fn check(
        &self,
        positive: &[(&str, usize)],
        (name, kernel): (&str, usize),
        per_group: usize,
    ) -> crate::Result<()> {
        let invalid = |m: String| Err(crate::Error::InvalidConfig(m));
        let Self {
            channels,
            image_size,
            first_kernel,
            hidden,
            head_hidden,
            levels,
        } = *self;
        if channels != 1 && channels != 3 {
            return invalid(format!("channels must be 1 or 3, got {channels}"));
        }
        let mut sizes = [("image_size", image_size)]
            .into_iter()
            .chain(positive.iter().copied());
        if let Some((size, _)) = sizes.find(|&(_, v)| v == 0) {
            return invalid(format!("{size} must be positive"));
        }
        if first_kernel.is_multiple_of(2) || kernel.is_multiple_of(2) {
            return invalid(format!(
                "kernel sides must be odd, got first_kernel {first_kernel} and {name} {kernel}"
            ));
        }
        if levels < 2 {
            return invalid(format!("levels must be at least 2, got {levels}"));
        }
        if hidden < per_group * channels || head_hidden < channels {
            return invalid(format!(
                "hidden ({hidden}) and head_hidden ({head_hidden}) must leave every colour group some channels"
            ));
        }
        Ok(())
    }
}

/// For a pixel model's configuration, with the fields of [`Shared`] and a second kernel side
/// `$kernel`: `shared`, `check` ([`Shared::check`]) and `assert_valid` (for `init`).
macro_rules! impl_config {
    (
        $config:ty,
        kernel: $kernel:ident,
        positive: [$($positive:ident),*],
        per_group: $per_group:expr
    ) => {
        impl $config {
            /// Why this configuration cannot be built, if it cannot.
            pub fn check(&self) -> $crate::Result<()> {
                let positive: &[(&str, usize)] = &[$((stringify!($positive), self.$positive)),*];
                let kernel = (stringify!($kernel), self.$kernel);
                self.shared().check(positive, kernel, $per_group)
            }

            /// The fields every pixel model's configuration has.
            pub(crate) fn shared(&self) -> $crate::common::Shared {
                $crate::common::Shared {
                    channels: self.channels,
                    image_size: self.image_size,
                    first_kernel: self.first_kernel,
                    hidden: self.hidden,
                    head_hidden: self.head_hidden,
                    levels: self.levels,
                }
            }

            /// Panics with the reason if [`Self::check`] fails.
            fn assert_valid(&self) {
                if let Err(e) = self.check() {
                    panic!("invalid {}: {e}", stringify!($config));
                }
            }
        }
    };
}
pub(crate) use impl_config;

/// The masked convolutions of a model of `groups` colour groups: `conv(c_in, c_out, k, mask)` is a
/// `k×k` one from `c_in` to `c_out` channels.
pub(crate) fn masked_convs(
    groups: usize,
    device: &Device,
) -> impl Fn(usize, usize, usize, MaskType) -> MaskedConv2d + '_ {
    move |c_in, c_out, k, mask| {
        MaskedConv2dConfig::new([c_in, c_out], [k, k], mask)
            .with_color_groups(groups)
            .init(device)
    }
}

/// `log_prob` and `loss` (as `$output`) of an unconditional pixel model, from its
/// [`Autoregressive`](crate::Autoregressive) logits.
macro_rules! impl_likelihood {
    ($ty:ty, $output:ident) => {
        impl $ty {
            /// Exact `log p(x)` of each image in nats.
            ///
            /// # Shapes
            /// `x: [B, C, H, W]` with values `k / (levels − 1)` → `[B]`
            pub fn log_prob(&self, x: Tensor<4>) -> Tensor<1> {
                let logits = $crate::sampling::Autoregressive::logits(self, x.clone());
                $crate::pixelcnn::log_prob_from_logits(logits, x, self.levels)
            }

            /// Mean NLL per image in nats, the training loss.
            pub fn loss(&self, x: Tensor<4>) -> $output {
                $output {
                    loss: self.log_prob(x).mean().neg(),
                }
            }
        }
    };
}
pub(crate) use impl_likelihood;
