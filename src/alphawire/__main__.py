from alphawire.cli import main

main()
