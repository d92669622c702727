from orchestration.cli import main

main(prog_name="zmart")
