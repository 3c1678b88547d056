// Case page: choosing a suggested plan action pre-selects its usual agency; dates default to today.
(function () {
  "use strict";
  var action = document.getElementById("plan-action");
  var agency = document.getElementById("plan-agency");
  if (action && agency) {
    var pick = function () {
      var opt = action.options[action.selectedIndex];
      var a = opt && opt.getAttribute("data-agency");
      if (a) { agency.value = a; }
    };
    action.addEventListener("change", pick);
    pick();
  }
  var help = document.getElementById("help-date");
  if (help && !help.value) {
    var d = new Date();
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    help.value = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  }
}());
