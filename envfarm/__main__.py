from envfarm.cli.app import main

main()
