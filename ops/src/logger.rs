//! A minimal logger: one line per event on stderr, which is what kubelet collects.

use std::io::Write;

struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            let _ = writeln!(std::io::stderr().lock(), "{:<5} {}", r.level(), r.args());
        }
    }
    fn flush(&self) {}
}

pub fn init(level: log::LevelFilter) {
    static LOGGER: Stderr = Stderr;
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}
