#!/usr/bin/python3
"""A tiny org.freedesktop.Notifications server for tests.

Run with Debian's /usr/bin/python3 (python3-dbus, python3-gi) on a session bus given by
DBUS_SESSION_BUS_ADDRESS. Every Notify call is appended to the log file (argv[1]) as one JSON
line with the caller's unix uid (GetConnectionUnixUser on the sender). Prints "ready" once it
owns the name.
"""
import json
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

IFACE = 'org.freedesktop.Notifications'
PATH = '/org/freedesktop/Notifications'


class Server(dbus.service.Object):
    def __init__(self, bus, log):
        super().__init__(bus, PATH)
        self.bus = bus
        self.log = log
        self.next_id = 1

    @dbus.service.method(IFACE, in_signature='susssasa{sv}i', out_signature='u', sender_keyword='sender')
    def Notify(self, app_name, replaces_id, app_icon, summary, body, actions, hints, expire_timeout, sender=None):
        dbus_obj = self.bus.get_object('org.freedesktop.DBus', '/org/freedesktop/DBus')
        uid = int(dbus_obj.GetConnectionUnixUser(sender, dbus_interface='org.freedesktop.DBus'))
        nid = self.next_id
        self.next_id += 1
        urgency = hints.get('urgency')
        rec = {
            'id': nid, 'app_name': str(app_name), 'summary': str(summary), 'body': str(body),
            'urgency': int(urgency) if urgency is not None else None,
            'expire_timeout': int(expire_timeout), 'sender': str(sender), 'uid': uid,
        }
        with open(self.log, 'a') as f:
            f.write(json.dumps(rec) + '\n')
        return dbus.UInt32(nid)

    @dbus.service.method(IFACE, in_signature='', out_signature='as')
    def GetCapabilities(self):
        return ['body', 'body-markup']

    @dbus.service.method(IFACE, in_signature='u', out_signature='')
    def CloseNotification(self, nid):
        pass

    @dbus.service.method(IFACE, in_signature='', out_signature='ssss')
    def GetServerInformation(self):
        return ('hosthog-test', 'hosthog', '1', '1.2')


def main():
    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    name = dbus.service.BusName(IFACE, bus, do_not_queue=True)
    Server(bus, sys.argv[1])
    print('ready', flush=True)
    loop = GLib.MainLoop()
    try:
        loop.run()
    except KeyboardInterrupt:
        pass
    del name


if __name__ == '__main__':
    main()
