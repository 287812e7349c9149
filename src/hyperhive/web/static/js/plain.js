// Pages with no live data of their own (errors) still show the operator's unread count.
import {boot} from "./core.js";

const node = document.getElementById("snapshot");
if (node) boot({render: () => null});
