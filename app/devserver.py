"""`make run`: serve the app on 127.0.0.1 (PORT, default 5000) for a laptop or a demo."""
from __future__ import annotations

import argparse
import os


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve 先锋指数 locally.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    args = parser.parse_args()

    from wsgi import app

    print(f"先锋指数 is serving on http://{args.host}:{args.port}  (Ctrl-C stops it)", flush=True)
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False, debug=False)


if __name__ == "__main__":
    main()
