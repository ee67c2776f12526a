from stablegan.cli import main

raise SystemExit(main())
