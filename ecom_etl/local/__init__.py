"""Local tooling, never run on Glue or Lambda: the AWS emulator, deploying the template, the build
of the code's artifacts and jar, local Glue job runs, the demo and the generated data. Paths of
the checkout (the template, jobs/, java/) are known here only (`checkout`).

May import: core, runtime, lake, stream, api, report and the shared modules (every wing but cli).
"""
