from synthcl.cli import main

raise SystemExit(main())
