# site-dir.py PREFIX DEFAULT: print the directory to install the module in.
#
# DEFAULT is Meson's choice, python.get_install_dir().  For Debian's python3
# it is PREFIX/lib/python3/dist-packages, which that python3 searches for
# PREFIX /usr but not for /usr/local (there it looks in
# /usr/local/lib/python3.X/dist-packages).  Print DEFAULT when the
# interpreter searches it or has no site directory under PREFIX; else its
# first site directory under PREFIX.
import os
import site
import sys

prefix, default = (os.path.normpath(a) for a in sys.argv[1:3])
sites = [os.path.normpath(p) for p in site.getsitepackages()]
under = [p for p in sites if p.startswith(prefix + os.sep)]
print(default if default in sites or not under else under[0])
