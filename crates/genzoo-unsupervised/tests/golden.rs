//! Agreement with scikit-learn on small random sets. The numbers in `golden.json` come from
//! `scripts/golden.py` (scikit-learn's `KMeans`, `PCA` and `GaussianMixture`; versions inside the file).

use burn::tensor::{Device, Tensor, TensorData};
use serde_json::Value;

fn golden() -> Value {
    serde_json::from_str(include_str!("golden.json")).expect("golden.json parses")
}

fn vecf(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn matrix(v: &Value) -> (Vec<f64>, usize, usize) {
    let rows = v.as_array().expect("rows");
    let d = rows[0].as_array().expect("row").len();
    (rows.iter().flat_map(vecf).collect(), rows.len(), d)
}

fn tensor(v: &Value) -> Tensor<2> {
    let (data, n, d) = matrix(v);
    let data: Vec<f32> = data.into_iter().map(|x| x as f32).collect();
    Tensor::from_data(TensorData::new(data, [n, d]), &Device::flex())
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

#[test]
fn kmeans_matches_sklearn_from_same_centres() {
    use genzoo_unsupervised::KMeansConfig;
    let g = golden();
    let k = &g["kmeans"];
    let fit = KMeansConfig::new(4)
        .with_max_iter(k["max_iter"].as_u64().expect("max_iter") as usize)
        .with_tol(k["tol"].as_f64().expect("tol"))
        .fit_from(&tensor(&k["x"]), &tensor(&k["init"]))
        .expect("fit");
    let want = k["inertia"].as_f64().expect("inertia");
    assert!(
        rel(fit.inertia(), want) < 1e-6,
        "inertia {} vs sklearn {want}",
        fit.inertia()
    );
    let labels: Vec<usize> = k["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .map(|v| v.as_u64().expect("u") as usize)
        .collect();
    assert_eq!(fit.labels(), &labels[..]);
    assert_eq!(fit.n_iter() as u64, k["n_iter"].as_u64().expect("n_iter"));
    let (centers, _, _) = matrix(&k["centers"]);
    assert!(
        fit.centers()
            .iter()
            .zip(&centers)
            .all(|(a, b)| (a - b).abs() < 1e-9)
    );
}

#[test]
fn pca_matches_sklearn() {
    use genzoo_unsupervised::PcaConfig;
    let g = golden();
    let p = &g["pca"];
    let x = tensor(&p["x"]);
    let pca = PcaConfig::new(3).fit(&x).expect("fit");
    for (a, b) in pca
        .explained_variance_ratio()
        .iter()
        .zip(vecf(&p["explained_variance_ratio"]))
    {
        assert!((a - b).abs() < 1e-5, "ratio {a} vs {b}");
    }
    for (a, b) in pca
        .explained_variance()
        .iter()
        .zip(vecf(&p["explained_variance"]))
    {
        assert!(rel(*a, b) < 1e-5, "variance {a} vs {b}");
    }
    let (comp, _, d) = matrix(&p["components"]);
    for c in 0..3 {
        let dot: f64 = (0..d)
            .map(|j| pca.components()[c * d + j] * comp[c * d + j])
            .sum();
        assert!(
            (dot.abs() - 1.0).abs() < 1e-5,
            "component {c}: |cos| = {}",
            dot.abs()
        );
    }
    let x5 = x.clone().slice([0..5, 0..d]);
    let check = |got: Tensor<2>, want: &Value, what: &str| {
        let got: Vec<f64> = got.into_data().iter::<f32>().map(f64::from).collect();
        let (want, _, _) = matrix(want);
        for (a, b) in got.iter().zip(&want) {
            assert!(
                (a.abs() - b.abs()).abs() < 1e-4 * (1.0 + b.abs()),
                "{what}: {a} vs {b}"
            );
        }
    };
    check(pca.transform(&x5).expect("t"), &p["transform"], "transform");
    check(
        pca.inverse_transform(&pca.transform(&x5).expect("t"))
            .expect("inv"),
        &p["inverse_transform"],
        "inverse",
    );
    let white = PcaConfig::new(3).with_whiten(true).fit(&x).expect("fit");
    check(
        white.transform(&x5).expect("t"),
        &p["transform_whiten"],
        "whitened transform",
    );
}

#[test]
fn gmm_matches_sklearn_from_same_parameters() {
    use genzoo_unsupervised::{CovarianceType, GaussianMixtureConfig, GmmParams};
    let g = golden();
    let m = &g["gmm"];
    let x = tensor(&m["x"]);
    for (name, kind) in [
        ("diag", CovarianceType::Diag),
        ("full", CovarianceType::Full),
    ] {
        let want = &m[name];
        let flat = |v: &Value| -> Vec<f64> {
            fn walk(v: &Value, out: &mut Vec<f64>) {
                match v {
                    Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                    x => out.push(x.as_f64().expect("number")),
                }
            }
            let mut out = Vec::new();
            walk(v, &mut out);
            out
        };
        let init = GmmParams {
            weights: vecf(&m["weights_init"]),
            means: flat(&m["means_init"]),
            covariances: flat(&want["covariances_init"]),
        };
        let fit = GaussianMixtureConfig::new(3)
            .with_covariance_type(kind)
            .with_max_iter(m["max_iter"].as_u64().expect("max_iter") as usize)
            .with_tol(m["tol"].as_f64().expect("tol"))
            .with_reg_covar(m["reg_covar"].as_f64().expect("reg_covar"))
            .fit_from(&x, &init)
            .expect("fit");
        let score = fit.score(&x).expect("score");
        let sk = want["score"].as_f64().expect("score");
        assert!(
            rel(score, sk) < 1e-6,
            "{name}: mean log-likelihood {score} vs sklearn {sk}"
        );
        assert_eq!(
            fit.n_iter() as u64,
            want["n_iter"].as_u64().expect("n_iter"),
            "{name}: iterations"
        );
        assert_eq!(
            fit.converged(),
            want["converged"].as_bool().expect("converged")
        );
        let bic = fit.bic(&x).expect("bic");
        let sk_bic = want["bic"].as_f64().expect("bic");
        assert!(rel(bic, sk_bic) < 1e-6, "{name}: BIC {bic} vs {sk_bic}");
        for (a, b) in fit.params().means.iter().zip(flat(&want["means"])) {
            assert!((a - b).abs() < 1e-4, "{name}: mean {a} vs {b}");
        }
        let x5 = x.clone().slice([0..5, 0..3]);
        for (a, b) in fit
            .score_samples(&x5)
            .expect("samples")
            .iter()
            .zip(vecf(&want["score_samples"]))
        {
            assert!(rel(*a, b) < 1e-5, "{name}: log p {a} vs {b}");
        }
    }
}

#[test]
fn kde_matches_the_reference_formula_and_sklearn_bandwidths() {
    use genzoo_unsupervised::{Bandwidth, KernelDensityConfig};
    let g = golden();
    let k = &g["kde"];
    let x = tensor(&k["x"]);
    let q = tensor(&k["queries"]);
    for (name, bw) in [
        ("scott", Bandwidth::Scott),
        ("silverman", Bandwidth::Silverman),
        ("given", Bandwidth::Given(0.3)),
    ] {
        let kde = KernelDensityConfig::new()
            .with_bandwidth(bw)
            .fit(&x)
            .expect("fit");
        let want_h = k[name]["bandwidth"].as_f64().expect("bandwidth");
        assert!(
            rel(kde.bandwidth(), want_h) < 1e-12,
            "{name}: bandwidth {} vs sklearn {want_h}",
            kde.bandwidth()
        );
        let got = kde.log_density(&q).expect("log density");
        let want = vecf(&k[name]["log_density"]);
        assert_eq!(got.len(), want.len());
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            // f32 distances: 1e-5 relative (the far query sits at −2,545 nats).
            assert!(
                (a - b).abs() < 1e-5 * b.abs().max(1.0),
                "{name} query {i}: {a} vs reference {b}"
            );
        }
    }
}
