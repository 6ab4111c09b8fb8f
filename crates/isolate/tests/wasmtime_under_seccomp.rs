//! The runtime's seccomp profile must let wasmtime's JIT do its work: compile, map code
//! executable, instantiate memories with data segments (whose copy-on-write memfd path is
//! refused with ENOSYS), grow memory, and turn out-of-bounds accesses into traps through its
//! signal handlers. This test binary re-executes itself inside the isolate, where its ignored
//! `jit_child` test confines itself and runs a real module, reporting over the socket.

use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use veracruz_isolate::{
    confine_self, spawn, take_inherited_socket, IsolateConfig, IsolateExit, SeccompProfile,
};

const CHILD_ENV: &str = "VERACRUZ_ISOLATE_JIT_CHILD";
const MIB: u64 = 1024 * 1024;

#[test]
fn wasmtime_jit_runs_under_the_runtime_profile() {
    let me = std::env::current_exe().unwrap();
    let mut config = IsolateConfig::new(&me, 64 * MIB);
    config.args = ["--exact", "jit_child", "--ignored", "--test-threads=1"]
        .map(Into::into)
        .to_vec();
    config.env = vec![(CHILD_ENV.into(), "1".into())];
    // The child's own test-harness summary would read like this binary's.
    config.stdout = veracruz_isolate::ChildStdio::Null;
    let mut isolate = spawn(&config).unwrap();
    let socket = isolate.take_socket().unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let lines: Vec<String> = BufReader::new(&socket)
        .lines()
        .map_while(Result::ok)
        .collect();
    let exit = isolate
        .wait_timeout(Duration::from_secs(60))
        .unwrap()
        .expect("child ended");
    assert_eq!(
        lines,
        [
            "confined",
            "add 42",
            "data hello",
            "grown 2",
            "trap MemoryOutOfBounds",
            "done"
        ],
        "child ended with {exit}"
    );
    assert_eq!(exit, IsolateExit::Exited(0));
}

const MODULE: &str = r#"
(module
  (memory (export "memory") 1 4)
  (data (i32.const 16) "hello")
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "byte") (param i32) (result i32) local.get 0 i32.load8_u)
  (func (export "grow") (result i32) i32.const 1 memory.grow drop memory.size))
"#;

#[test]
#[ignore = "runs only inside the isolate, started by wasmtime_jit_runs_under_the_runtime_profile"]
fn jit_child() {
    assert!(
        std::env::var_os(CHILD_ENV).is_some(),
        "jit_child runs only inside the isolate"
    );
    let socket = take_inherited_socket().unwrap();
    let mut out = &socket;
    confine_self(&SeccompProfile::runtime()).unwrap();
    writeln!(out, "confined").unwrap();

    // Everything below runs under the allow-list.
    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::new(&engine, wat::parse_str(MODULE).unwrap()).unwrap();
    let mut store = wasmtime::Store::new(&engine, ());
    let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
    let add = instance
        .get_typed_func::<(i32, i32), i32>(&mut store, "add")
        .unwrap();
    writeln!(out, "add {}", add.call(&mut store, (40, 2)).unwrap()).unwrap();
    let byte = instance
        .get_typed_func::<i32, i32>(&mut store, "byte")
        .unwrap();
    let hello: String = (16..21)
        .map(|at| byte.call(&mut store, at).unwrap() as u8 as char)
        .collect();
    writeln!(out, "data {hello}").unwrap();
    let grow = instance
        .get_typed_func::<(), i32>(&mut store, "grow")
        .unwrap();
    writeln!(out, "grown {}", grow.call(&mut store, ()).unwrap()).unwrap();
    let trap = byte.call(&mut store, 10 * 65536).unwrap_err();
    let trap = trap
        .downcast_ref::<wasmtime::Trap>()
        .copied()
        .expect("a wasm trap");
    writeln!(out, "trap {trap:?}").unwrap();
    writeln!(out, "done").unwrap();
}
