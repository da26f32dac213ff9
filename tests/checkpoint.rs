//! Checkpoints: round trip under PyTorch names, atomic writes, and clear errors for truncated,
//! corrupted and mismatched files.

mod common;

use common::uniform;
use shortcut::checkpoint::{load, load_module, save, save_module};
use shortcut::nn::{Conv2d, Flatten, Linear, Module, ReLU, Sequential};
use shortcut::ops::Conv2dParams;
use shortcut::{Device, Rng};

fn model(seed: u64, hidden: usize) -> Sequential {
    let mut rng = Rng::new(seed, 0);
    Sequential::new()
        .push(Conv2d::new(3, 4, 3, Conv2dParams::new(1, 1), &mut rng, Device::Cpu).unwrap())
        .push(ReLU::new())
        .push(Flatten::new())
        .push(Linear::new(4 * 4 * 4, hidden, true, &mut rng, Device::Cpu).unwrap())
}

#[test]
fn round_trip_restores_every_parameter_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let a = model(1, 5);
    save_module(&path, &a).unwrap();
    let b = model(2, 5);
    load_module(&path, &b).unwrap();
    for ((na, ta), (nb, tb)) in a.named_parameters().iter().zip(b.named_parameters()) {
        assert_eq!(na, &nb);
        assert_eq!(ta.to_vec().unwrap(), tb.to_vec().unwrap());
    }
    let x = uniform(&[2, 3, 4, 4], 0.0, 1.0, 3);
    assert_eq!(
        a.forward(&x).unwrap().to_vec().unwrap(),
        b.forward(&x).unwrap().to_vec().unwrap()
    );
    let names: Vec<String> = {
        let mut v: Vec<String> = load(&path, Device::Cpu).unwrap().into_keys().collect();
        v.sort();
        v
    };
    assert_eq!(names, vec!["0.bias", "0.weight", "3.bias", "3.weight"]);
    // no temporary file is left beside the checkpoint
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1);
}

#[test]
fn saving_over_an_existing_checkpoint_replaces_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    save_module(&path, &model(1, 5)).unwrap();
    let newer = model(7, 5);
    save_module(&path, &newer).unwrap();
    let back = model(9, 5);
    load_module(&path, &back).unwrap();
    assert_eq!(
        back.parameters()[0].to_vec().unwrap(),
        newer.parameters()[0].to_vec().unwrap()
    );
}

#[test]
fn writing_into_a_missing_directory_is_an_error_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/m.safetensors");
    let err = save_module(&path, &model(1, 5)).unwrap_err().to_string();
    assert!(err.contains("cannot write"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn truncated_file_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    save_module(&path, &model(1, 5)).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    for cut in [0, 4, 20, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let err = load(&path, Device::Cpu).unwrap_err().to_string();
        assert!(
            err.contains("m.safetensors") && err.contains("not a valid safetensors"),
            "cut {cut}: {err}"
        );
    }
}

#[test]
fn corrupted_header_or_data_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    save_module(&path, &model(1, 5)).unwrap();
    let good = std::fs::read(&path).unwrap();

    let mut bad_header = good.clone();
    bad_header[8] = b'#'; // the header's opening brace
    assert_eq!(good[8], b'{');
    std::fs::write(&path, &bad_header).unwrap();
    assert!(load(&path, Device::Cpu).is_err());

    let mut bad_data = good.clone();
    let last = bad_data.len() - 3;
    bad_data[last] ^= 0x40;
    std::fs::write(&path, &bad_data).unwrap();
    let err = load(&path, Device::Cpu).unwrap_err().to_string();
    assert!(err.contains("corrupted"), "{err}");

    let mut huge_len = good;
    huge_len[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(&path, &huge_len).unwrap();
    assert!(load(&path, Device::Cpu).is_err());
}

#[test]
fn wrong_shapes_or_names_say_which_tensor_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    save_module(&path, &model(1, 5)).unwrap();
    let other = model(2, 6); // the last layer has 6 outputs instead of 5
    let before: Vec<Vec<f32>> = other
        .parameters()
        .iter()
        .map(|p| p.to_vec().unwrap())
        .collect();
    let err = load_module(&path, &other).unwrap_err().to_string();
    assert!(
        err.contains("3.weight") && err.contains("[5, 64]") && err.contains("[6, 64]"),
        "{err}"
    );
    let after: Vec<Vec<f32>> = other
        .parameters()
        .iter()
        .map(|p| p.to_vec().unwrap())
        .collect();
    assert_eq!(before, after, "a failed load modified the model");

    let mut rng = Rng::new(3, 0);
    let smaller = Sequential::new()
        .push(Conv2d::new(3, 4, 3, Conv2dParams::new(1, 1), &mut rng, Device::Cpu).unwrap());
    let err = load_module(&path, &smaller).unwrap_err().to_string();
    assert!(err.contains("unexpected tensor '3.bias'"), "{err}");

    save(
        &path,
        &[("0.weight".to_string(), uniform(&[4, 3, 3, 3], 0.0, 1.0, 1))],
    )
    .unwrap();
    let err = load_module(&path, &smaller).unwrap_err().to_string();
    assert!(err.contains("no tensor '0.bias'"), "{err}");
}

#[test]
fn missing_file_is_an_error() {
    let err = load("/definitely/not/here.safetensors", Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn the_same_tensors_and_metadata_give_the_same_bytes_in_any_order() {
    let m = model(3, 5);
    let mut named = m.state_dict();
    let meta = |order: &[usize]| -> Vec<(String, String)> {
        let kv = [
            ("shortcut.a", "1"),
            ("shortcut.b", "2"),
            ("shortcut.c", "{\"x\": 3}"),
        ];
        order
            .iter()
            .map(|&i| (kv[i].0.to_string(), kv[i].1.to_string()))
            .collect()
    };
    let a = shortcut::checkpoint::serialize(&named, &meta(&[0, 1, 2])).unwrap();
    named.reverse();
    let b = shortcut::checkpoint::serialize(&named, &meta(&[2, 0, 1])).unwrap();
    assert_eq!(a, b);
    // Many saves of one model (the crate's HashMap writer varied here) are byte-identical.
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.safetensors");
    shortcut::checkpoint::save_with_metadata(&first, &m.state_dict(), &meta(&[0, 1, 2])).unwrap();
    let bytes = std::fs::read(&first).unwrap();
    for i in 0..8 {
        let p = dir.path().join(format!("again-{i}.safetensors"));
        shortcut::checkpoint::save_with_metadata(&p, &m.state_dict(), &meta(&[0, 1, 2])).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), bytes);
    }
    // And the safetensors crate (what PyTorch's loader mirrors) reads it back.
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.tensors().len(), m.state_dict().len());
}

#[test]
fn a_checkpoint_with_nan_or_inf_weights_is_refused_naming_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let path = dir.path().join("bad.safetensors");
        let mut v = vec![0.5f32; 12];
        v[7] = bad;
        let t = shortcut::Tensor::from_vec(v, [3, 4], Device::Cpu).unwrap();
        save(&path, &[("classifier.weight".to_string(), t)]).unwrap();
        let err = load(&path, Device::Cpu).err().unwrap().to_string();
        assert!(
            err.contains("tensor 'classifier.weight' holds") && err.contains("element 7"),
            "{err}"
        );
    }
}
