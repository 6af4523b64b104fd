from .fastpath import main

raise SystemExit(main())
