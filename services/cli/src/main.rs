fn main() -> std::process::ExitCode {
    presage_cli::main()
}
