fn main() {
    hpcinit::ui::run_clock::start();
    hpcinit::ui::exit_130_on_interrupt();
    let env = hpcinit::env::Env::from_process();
    let code = hpcinit::run(std::env::args_os(), &env, &mut std::io::stdout(), &mut std::io::stderr());
    std::process::exit(code);
}
