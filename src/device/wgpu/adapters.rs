//! Choosing a WebGPU adapter.
//!
//! `--device wgpu` takes the best adapter there is, ranked discrete GPU > integrated GPU >
//! virtual GPU > other > CPU (software, e.g. Mesa's lavapipe), so it still works on a machine
//! with no GPU at all. `--device auto` only takes a hardware adapter: on the CPU our own
//! kernels beat a software Vulkan driver, so `auto` falls back to `cpu` instead.
//!
//! Environment: `WGPU_BACKEND` (`vulkan`, `metal`, `dx12`, `gl`) restricts the backends, as in
//! every wgpu program; `SHORTCUT_WGPU_ADAPTER=<text>` picks the first adapter whose name
//! contains the text (case-insensitive).

/// An adapter and how it ranked.
pub struct AdapterChoice {
    pub adapter: ::wgpu::Adapter,
    pub info: ::wgpu::AdapterInfo,
}

/// Higher is better.
fn rank(t: ::wgpu::DeviceType) -> u32 {
    match t {
        ::wgpu::DeviceType::DiscreteGpu => 4,
        ::wgpu::DeviceType::IntegratedGpu => 3,
        ::wgpu::DeviceType::VirtualGpu => 2,
        ::wgpu::DeviceType::Other => 1,
        ::wgpu::DeviceType::Cpu => 0,
    }
}

/// Is this a hardware adapter (one `--device auto` may pick)?
pub fn is_hardware(info: &::wgpu::AdapterInfo) -> bool {
    !matches!(info.device_type, ::wgpu::DeviceType::Cpu)
}

/// "llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan, CPU / software)".
pub fn describe(info: &::wgpu::AdapterInfo) -> String {
    let kind = match info.device_type {
        ::wgpu::DeviceType::DiscreteGpu => "discrete GPU",
        ::wgpu::DeviceType::IntegratedGpu => "integrated GPU",
        ::wgpu::DeviceType::VirtualGpu => "virtual GPU",
        ::wgpu::DeviceType::Other => "other",
        ::wgpu::DeviceType::Cpu => "CPU / software",
    };
    format!("{} ({:?}, {kind})", info.name, info.backend)
}

fn instance() -> ::wgpu::Instance {
    let mut desc = ::wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = ::wgpu::Backends::from_env().unwrap_or(::wgpu::Backends::PRIMARY);
    ::wgpu::Instance::new(desc)
}

/// Every adapter wgpu can see, best first, with compute support.
pub fn list() -> Vec<AdapterChoice> {
    // Creating an instance can panic deep inside a broken driver stack; a panic here must not
    // take the program down, it means "no adapter".
    let found = std::panic::catch_unwind(|| {
        let inst = instance();
        pollster::block_on(inst.enumerate_adapters(::wgpu::Backends::all()))
    })
    .unwrap_or_default();
    let mut out: Vec<AdapterChoice> = found
        .into_iter()
        .map(|adapter| {
            let info = adapter.get_info();
            AdapterChoice { adapter, info }
        })
        .filter(|c| {
            // GL adapters lack compute shaders on many drivers; keep only those that have them.
            c.adapter
                .get_downlevel_capabilities()
                .flags
                .contains(::wgpu::DownlevelFlags::COMPUTE_SHADERS)
        })
        .collect();
    out.sort_by_key(|c| std::cmp::Reverse(rank(c.info.device_type)));
    out
}

/// The adapter `--device wgpu` uses.
pub fn best() -> Result<AdapterChoice, String> {
    let all = list();
    if let Ok(want) = std::env::var("SHORTCUT_WGPU_ADAPTER") {
        let w = want.to_lowercase();
        let names: Vec<String> = all.iter().map(|c| describe(&c.info)).collect();
        return all
            .into_iter()
            .find(|c| c.info.name.to_lowercase().contains(&w))
            .ok_or_else(|| {
                format!(
                    "SHORTCUT_WGPU_ADAPTER='{want}' matches none of the adapters: [{}]",
                    names.join("; ")
                )
            });
    }
    all.into_iter().next().ok_or_else(|| {
        "no WebGPU adapter was found (no Vulkan, Metal or DX12 driver). On Debian/Ubuntu, \
         `apt-get install mesa-vulkan-drivers` provides lavapipe, a Vulkan driver on the CPU; \
         or use --device cpu"
            .to_string()
    })
}
