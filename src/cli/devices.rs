//! `grpo-xla devices`: what a plugin sees.

use anyhow::Result;

use super::DeviceArgs;

pub fn run(args: &DeviceArgs) -> Result<()> {
    let client = args.client()?;
    let plugin = client.plugin();
    let (major, minor) = plugin.api_version();
    println!("plugin:           {}", plugin.path().display());
    println!("PJRT C API:       {major}.{minor}");
    println!(
        "platform:         {} ({})",
        client.platform_name(),
        client.platform_version()
    );
    if let Ok(attributes) = plugin.attributes() {
        for (name, value) in attributes.iter().filter(|(n, _)| n.contains("version")) {
            println!("{:<27}{value}", format!("{name}:"));
        }
    }
    println!("devices:          {}", client.devices().len());
    let mib = |b: i64| format!("{:.1} MiB", b as f64 / (1 << 20) as f64);
    for device in client.devices() {
        println!(
            "  [{}] id={} kind={} {}",
            device.index, device.id, device.kind, device.description
        );
        match client.device_memory(device.index) {
            Ok(m) => println!(
                "      memory: {} in use, peak {}, limit {}",
                mib(m.in_use),
                m.peak_in_use.map_or("-".to_string(), mib),
                m.limit.map_or("-".to_string(), mib)
            ),
            Err(e) => println!("      memory: not reported by this plugin ({e})"),
        }
    }
    Ok(())
}
